import pytest
from canids_core import (
    SlurmFormatError,
    format_memory,
    format_slurm_time,
    parse_memory,
    parse_slurm_time,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("60", 3600),  # minutes
        ("0:30", 30),
        ("90:30", 90 * 60 + 30),  # minutes:seconds, past the hour
        ("02:00:00", 7200),
        ("100:00:00", 360000),
        ("1-12", 36 * 3600),  # days-hours
        ("1-12:30", 36 * 3600 + 1800),
        ("2-00:00:01", 2 * 86400 + 1),
        ("00:00:01.234", 2),  # sacct's fractional seconds round up
        (" 5 ", 300),
        (15, 900),
    ],
)
def test_every_sbatch_time_form(text, seconds):
    assert parse_slurm_time(text) == seconds


@pytest.mark.parametrize("text", ["", "1h", "1:2:3:4", "-5", "1-", "a-02", "1-2-3", "1.5"])
def test_bad_times_are_refused_with_the_forms(text):
    with pytest.raises(SlurmFormatError, match=r"D-HH:MM:SS"):
        parse_slurm_time(text)


@pytest.mark.parametrize("text", ["UNLIMITED", "INFINITE", "0", "unlimited"])
def test_unlimited(text):
    assert parse_slurm_time(text, allow_unlimited=True) is None
    with pytest.raises(SlurmFormatError, match="finite"):
        parse_slurm_time(text)


@pytest.mark.parametrize("seconds", [1, 59, 3600, 86399, 86400, 3 * 86400 + 5])
def test_time_round_trip(seconds):
    assert parse_slurm_time(format_slurm_time(seconds)) == seconds


def test_format_time_forms():
    assert format_slurm_time(7200) == "02:00:00"
    assert format_slurm_time(86400 + 61) == "1-00:01:01"
    assert format_slurm_time(0.2) == "00:00:01"


@pytest.mark.parametrize(
    ("text", "num"),
    [
        ("16G", 16 << 30),
        ("512M", 512 << 20),
        ("500", 500 << 20),
        ("1.5G", 3 << 29),
        ("2tb", 2 << 40),
    ],
)
def test_memory(text, num):
    assert parse_memory(text) == num


@pytest.mark.parametrize("text", ["", "G", "-1G", "0", "12X", "1 0G"])
def test_bad_memory(text):
    with pytest.raises(SlurmFormatError, match="memory"):
        parse_memory(text)


def test_format_memory_keeps_integers():
    assert format_memory(16 << 30) == "16G"
    assert format_memory(3 << 29) == "1536M"
    assert format_memory(1) == "1M"
