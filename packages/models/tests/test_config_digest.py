"""Golden config digests: checkpoints, resume state and tune trials are keyed by
``RunConfig.digest``, so a config that did not change must keep its digest across any
rewrite of the config code. The move to pydantic kept the dataclass digests (recorded at
commit aa484b4). The detection work then added settings (the calibration, fusion and eval
sections, gat/vgae.id_embedding, train.deterministic): a config with new settings is a new
config, so the values below were recorded once after that addition, and again when
canids-models 0.7.0 added ``calibration.guard`` (a new choice, so a new config), and when
0.13.0 made the frozen warm-up 2 s by default (a new protocol, so a new config: with
``eval.frozen_warmup=0`` every config keeps its 0.12.0 digest, checked below), and when
0.15.0 moved the calibration guard's floor to validation's edge (``calibration.
guard_at=threshold`` keeps the 0.13.0-0.14.x digests), and when 0.16.0 added the cut
fusions to the candidates (``fusion.cut_fusions=false`` keeps the 0.15.0 digests), and
when 0.17.0 made ``fusion.select=auto`` the default (``fusion.select=validation`` keeps
the 0.16.0 digests), and when 0.18.0 judged calibration periods on a clean calibration
with a tie margin (``calibration.clean_validation=false`` with ``calibration.tie_margin=
null`` keeps the 0.17.0 digests), and when 0.19.0 gave a tie between fusions to those in
which either detector flags alone (``fusion.tie_order=simplest`` keeps the 0.18.0 digests),
and when 0.20.0 calibrated on the deployed fusion's own period (``fusion.period_of=
validation`` keeps the 0.19.0 digests), and when 0.23.0 gave a near-tie between calibration
periods to the longest and one between rules to the most sensitive
(``calibration.period_ties=first`` with ``calibration.rule_ties=first`` keeps the
0.20.0-0.22.0 digests).
A change here orphans every saved run: only a change of
the config's content may cause one."""

from __future__ import annotations

import pytest
from canids_models import ConfigError, RunConfig, load_config

TEACHER = "b19adcf1446ac59cf347bcfdbf662c07b9ca4b88d3f92fa195f8ffe42b6c09b5"
# Since canids-models 0.26.0 the student deploys its teacher's fusion
# (fusion.select=teacher); every older student digest below is under fusion.select=auto.
STUDENT = "636731369917de6bf473b2f49e596bf614126d2415ccfd0726f3a7cfbda92a4e"
STUDENT_AUTO = "fusion.select=auto"
STUDENT_0_25 = "9e07bf697a60850687b5290361dd312b535f083d9e9845194d5a922920446784"
# canids-models 0.20.0-0.22.0, whose ties between calibration periods and between rules
# went to the earliest listed.
TIES_0_22 = ("calibration.period_ties=first", "calibration.rule_ties=first")
TEACHER_0_22 = "fb8e5e156a55c17fc097240d8d28b65c0abdf6d4684fd32152937fb45c1d4aa4"
STUDENT_0_22 = "c3a495384c434d63a847da4e5940a4730e17062bd45f12dc7eb4c51252b190dd"
# canids-models 0.19.0 and every version before it, whose shared calibration period was
# validation's own choice whichever fusion the families rule deployed.
VALIDATION_PERIOD = "fusion.period_of=validation"
TEACHER_0_19 = "9baf18d05698d40670e547e748cf2a74a1e7d921baf3d995a96d5ca5e06676c9"
STUDENT_0_19 = "938b821220a1d80bfe7edea7808b9d54e1f82fb12af897fa89ba7e9cadbed1c5"
# canids-models 0.18.0, whose ties between fusions went to the simplest (mean first).
SIMPLEST = ("fusion.tie_order=simplest", VALIDATION_PERIOD, *TIES_0_22)
TEACHER_0_18 = "2c5a5fa22ac652c74774f71c543e6415447f28fcafadeb3e7291fdb66ea8312f"
STUDENT_0_18 = "645b6bb48b10a67f4c18f014e77154cda284faf202434659b286b9f15333a294"
# canids-models 0.17.0, whose calibration judge calibrated validation on whatever each
# period held and took the earliest of the exact best rules (and, like every version until
# 0.18.0, gave a tie between fusions to the simplest).
JUDGE_0_17 = ("calibration.clean_validation=false", "calibration.tie_margin=null", *SIMPLEST)
TEACHER_0_17 = "a14ee8d8dac1fc3410843b5852854b876aaf577dc1d798b48cce218c0297ea69"
STUDENT_0_17 = "9aba341e32e3c0fc87cb0dca959494705eceed537ed4ed2c1a95767fc876951c"
# canids-models 0.16.0, whose default chose the fusion on validation.
BY_VALIDATION = "fusion.select=validation"
TEACHER_0_16 = "808b9597d6734266c6f8b6be21236f4f465fdc7b49d226de7ff001b3d0ff4a31"
STUDENT_0_16 = "7c133ff983ab5b17d5182c6d9783c727ebaf83f62b282c4f6b260be57e08f24d"
# canids-models 0.15.0, whose candidates had no cut fusion.
NO_CUT = "fusion.cut_fusions=false"
TEACHER_0_15 = "9ac0ae8c8b4f2170a5913162a09288c739930f5d914d47eb2afe74cee18d8c8d"
STUDENT_0_15 = "6f903aaeeac3bf23f2b59b87a4b5f3b28550623684ba9d7bc0d7a78229baed97"
# canids-models 0.13.0-0.14.x, whose guard's floor was the frozen cut.
GUARD_AT_CUT = "calibration.guard_at=threshold"
TEACHER_0_14 = "5d72c36ab253c7e6c34f6d1cb040a54f968c95352aceab0c6ac54da99b44c2a4"
STUDENT_0_14 = "d913cc4e052d931ea7d6f0c9164bd18408e1f8c2e8ec73488c69b68616bc10d9"
# canids-models 0.7.0-0.12.0, whose default scored every window (eval.frozen_warmup=0).
EVERY_WINDOW = "eval.frozen_warmup=0"
TEACHER_0_12 = "b68377b90969463297d77c9aec913812b4ce4b3c5dc9c8672dcf4fe178d3a213"
STUDENT_0_12 = "08cdd69d6a03250929f12f7c59f5a0f3f458b8f267c37e72abbc7b9c293f8daf"
# An int for a float field (train.lr=1, distill.alpha=0) is stored as a float: 1.0, 0.0.
TEACHER_SET = (
    "gat.heads=2",
    "train.lr=1",
    "train.device=cpu",
    "batching.mode=fixed",
    "curriculum.ramp_epochs=3",
    "dqn.gamma=0.5",
)
TEACHER_SET_DIGEST = "e1fde6b1c08a8030db97adb7c75ec8f5ae0a88ba665bcc805457c1bd7ae13a00"
TEACHER_SET_0_22 = "74446022f788c2ce123ac8c95515e8c4beccc5989c5be0186d3bc3491e583df4"
TEACHER_SET_0_19 = "ddd10689438d1c81ac2105591c2c7b8814c24863846438673a2c1f3c4d4f7338"
TEACHER_SET_0_18 = "a5f2d8b23329ebde5faf3538ffed0bde5988e38c274cf84a03d6cc657be80fc1"
TEACHER_SET_0_17 = "daebf1e1d88f8911b6c08cd6553f68c8806c4ff003a69936ef2f6acddfa3ce6c"
TEACHER_SET_0_16 = "2dc8312fe3ee908453b1d076f31cfb9b6978dcc77d72b3b11f96f69616475d82"
TEACHER_SET_0_15 = "826d8dc16c712125d5f11b98310f93d556d0374750b2bf39371ee1e37534f130"
TEACHER_SET_0_14 = "7572b985de793e45148b3f70b61cb69861066894d23a5b78b9f0aebac38943a9"
TEACHER_SET_0_12 = "c33860a913ffcf74777cd477a383047fe4553dd5cf57f7127882becf4ecf8a19"
STUDENT_SET = ("vgae.latent=4", "distill.alpha=0", "train.epochs=2", "train.seed=7")
STUDENT_SET_DIGEST = "9c6ca452f604d679ee90e39f7a2d0ba64ec214b8cea98bfa24b80000f2cf800b"
STUDENT_SET_0_25 = "2e3d7789a72daefbb5394484e4f34b1b38840097787de089ffdc4c1d69805bdd"
STUDENT_SET_0_22 = "ac444087f55a3850168e9e8c1cf54782dc3eef463452950a1a4e1754dc316ecf"
STUDENT_SET_0_19 = "21784e56f4d6014cb24c45c043d6fbf0ea5ba0b41ec2dbbf28b876ea57d58d99"
STUDENT_SET_0_18 = "083029f9e815087a5573965342a219ff56d0ce227f23f534f1293d0256f25e12"
STUDENT_SET_0_17 = "4fa3ef7d0d81d8d6110797fa7284a1814476a2f3c976191b80cebc12c71fdb9b"
STUDENT_SET_0_16 = "6bd8ed8456d5008dd2b7592d30d8d437f4f83dd18de069699439f4f8777302d9"
STUDENT_SET_0_15 = "3272926527328dbcfe209db7083a6a90eafb3b425d7034c110f5e6425bb6fbc9"
STUDENT_SET_0_14 = "c1a54c8794637279a79625b8c163155defabde097c8a58f861811c50681ea86e"
STUDENT_SET_0_12 = "4532d1d71b0ca083c6242c144ef187623ce4cff50f3cc1cdff1e365a537151aa"
# The teacher with fusion.select=families under canids-models 0.8.0-0.11.0 (no tie margin,
# every window scored).
FAMILIES_0_11 = "1d56e3348e7f927a253dca86c197f68e0bbc26bd57addaa1ec36fa8603739caf"


def test_preset_digests_are_unchanged():
    assert RunConfig.preset("teacher").digest == TEACHER
    assert RunConfig.preset("student").digest == STUDENT
    assert load_config("teacher").digest == TEACHER
    assert load_config("student", overrides=[STUDENT_AUTO]).digest == STUDENT_0_25
    set_0_25 = load_config("student", overrides=[*STUDENT_SET, STUDENT_AUTO])
    assert set_0_25.digest == STUDENT_SET_0_25


@pytest.mark.parametrize(
    ("size", "overrides", "digest"),
    [("teacher", TEACHER_SET, TEACHER_SET_DIGEST), ("student", STUDENT_SET, STUDENT_SET_DIGEST)],
)
def test_overridden_digests_are_unchanged(size, overrides, digest):
    assert load_config(size, overrides=list(overrides)).digest == digest


@pytest.mark.parametrize(
    ("size", "overrides", "digest"),
    [
        ("teacher", (), TEACHER_0_12),
        ("student", (STUDENT_AUTO,), STUDENT_0_12),
        ("teacher", TEACHER_SET, TEACHER_SET_0_12),
        ("student", (*STUDENT_SET, STUDENT_AUTO), STUDENT_SET_0_12),
    ],
)
def test_every_window_keeps_the_0_12_digests(size, overrides, digest):
    """0.13.0, 0.15.0 and 0.16.0 changed one default each and nothing else: scoring every
    window with the guard at the frozen cut and no cut fusion gives every config the digest
    it had, so runs made with ``eval.frozen_warmup=0`` stay valid."""
    old = [*overrides, EVERY_WINDOW, GUARD_AT_CUT, NO_CUT, BY_VALIDATION, *JUDGE_0_17]
    assert load_config(size, overrides=old).digest == digest


@pytest.mark.parametrize(
    ("size", "overrides", "digest"),
    [
        ("teacher", (), TEACHER_0_14),
        ("student", (STUDENT_AUTO,), STUDENT_0_14),
        ("teacher", TEACHER_SET, TEACHER_SET_0_14),
        ("student", (*STUDENT_SET, STUDENT_AUTO), STUDENT_SET_0_14),
    ],
)
def test_guard_at_the_cut_keeps_the_0_14_digests(size, overrides, digest):
    """0.15.0 moved the guard's floor from the frozen cut to validation's edge under it:
    ``calibration.guard_at=threshold`` is 0.13.0-0.14.x's rule and keeps their digest."""
    old = [*overrides, GUARD_AT_CUT, NO_CUT, BY_VALIDATION, *JUDGE_0_17]
    assert load_config(size, overrides=old).digest == digest
    assert load_config(size, overrides=list(overrides)).calibration.guard_at == "edge"
    assert load_config(size, overrides=list(overrides)).digest != digest


@pytest.mark.parametrize(
    ("size", "overrides", "digest"),
    [
        ("teacher", (), TEACHER_0_15),
        ("student", (STUDENT_AUTO,), STUDENT_0_15),
        ("teacher", TEACHER_SET, TEACHER_SET_0_15),
        ("student", (*STUDENT_SET, STUDENT_AUTO), STUDENT_SET_0_15),
    ],
)
def test_no_cut_fusion_keeps_the_0_15_digests(size, overrides, digest):
    """0.16.0 fits the cut fusions beside the others: ``fusion.cut_fusions=false`` is
    0.15.0's set of candidates and keeps its digest; a cut fusion by name needs them."""
    assert (
        load_config(size, overrides=[*overrides, NO_CUT, BY_VALIDATION, *JUDGE_0_17]).digest
        == digest
    )
    assert load_config(size, overrides=list(overrides)).fusion.cut_fusions is True
    cut = [*overrides, "fusion.cut_fusions=true", BY_VALIDATION]
    assert load_config(size, overrides=cut).digest != digest
    with pytest.raises(ConfigError, match=r"fusion\.method=cut_mean is a cut fusion"):
        load_config(size, overrides=[*overrides, "fusion.method=cut_mean", NO_CUT])


@pytest.mark.parametrize(
    ("size", "overrides", "digest"),
    [
        ("teacher", (), TEACHER_0_16),
        ("student", (STUDENT_AUTO,), STUDENT_0_16),
        ("teacher", TEACHER_SET, TEACHER_SET_0_16),
        ("student", (*STUDENT_SET, STUDENT_AUTO), STUDENT_SET_0_16),
    ],
)
def test_validation_s_rule_keeps_the_0_16_digests(size, overrides, digest):
    """0.17.0 made ``fusion.select=auto`` the default (the families rule where the training
    captures hold two attack families): ``fusion.select=validation`` is 0.16.0's rule and
    keeps its digest; auto and families are two other configs."""
    assert load_config(size, overrides=[*overrides, BY_VALIDATION, *JUDGE_0_17]).digest == digest
    assert load_config(size, overrides=list(overrides)).fusion.select == "auto"
    families = load_config(size, overrides=[*overrides, "fusion.select=families"]).digest
    assert len({digest, families, load_config(size, overrides=list(overrides)).digest}) == 3


def test_fusion_select_counts_only_when_it_is_not_validation():
    """Runs made before ``fusion.select`` existed chose on validation: they keep their
    digest; choosing on held-out families is another config, and so is auto."""
    by_validation = [BY_VALIDATION, *JUDGE_0_17]
    assert load_config("teacher", overrides=by_validation).digest == TEACHER_0_16
    assert load_config("teacher", overrides=["fusion.select=families"]).digest != TEACHER_0_16
    assert load_config("teacher", overrides=["fusion.select=auto"]).digest == TEACHER


def test_families_margin_counts_only_with_families_and_when_not_zero():
    """A families run made before the margin existed took the best mean however small its
    lead: margin 0 is that rule and keeps that digest; the default margin is a new rule,
    so a new config, and a validation run is untouched by it."""
    families = load_config("teacher", overrides=["fusion.select=families"])
    assert families.fusion.families_margin == 0.005
    assert families.digest not in (FAMILIES_0_11, TEACHER)
    old_rule = [
        "fusion.select=families",
        "fusion.families_margin=0",
        EVERY_WINDOW,
        GUARD_AT_CUT,
        NO_CUT,
        *JUDGE_0_17,
    ]
    assert load_config("teacher", overrides=old_rule).digest == FAMILIES_0_11
    wider = ["fusion.select=families", "fusion.families_margin=0.01"]
    assert load_config("teacher", overrides=wider).digest not in (families.digest, FAMILIES_0_11)
    assert load_config("teacher", overrides=["fusion.families_margin=0.005"]).digest == TEACHER
    # auto's margin counts like families' (auto takes that rule where it can).
    assert load_config("teacher", overrides=["fusion.families_margin=0.01"]).digest != TEACHER
    same = [BY_VALIDATION, "fusion.families_margin=0.005", *JUDGE_0_17]
    assert load_config("teacher", overrides=same).digest == TEACHER_0_16


def test_frozen_warmup_counts_only_when_it_is_not_zero():
    assert load_config("teacher").eval.frozen_warmup == 2.0
    assert load_config("teacher", overrides=["eval.frozen_warmup=2"]).digest == TEACHER
    every_window = [EVERY_WINDOW, GUARD_AT_CUT, NO_CUT, BY_VALIDATION, *JUDGE_0_17]
    assert load_config("teacher", overrides=every_window).digest == TEACHER_0_12
    other = load_config("teacher", overrides=["eval.frozen_warmup=1"]).digest
    assert other not in (TEACHER, TEACHER_0_12)


def test_int_for_a_float_is_recorded_as_a_float():
    data = load_config("teacher", overrides=list(TEACHER_SET)).to_dict()
    assert data["train"]["lr"] == 1.0
    assert isinstance(data["train"]["lr"], float)
    assert isinstance(load_config("student", overrides=list(STUDENT_SET)).distill.alpha, float)


@pytest.mark.parametrize(
    ("size", "overrides", "digest"),
    [
        ("teacher", (), TEACHER_0_17),
        ("student", (STUDENT_AUTO,), STUDENT_0_17),
        ("teacher", TEACHER_SET, TEACHER_SET_0_17),
        ("student", (*STUDENT_SET, STUDENT_AUTO), STUDENT_SET_0_17),
    ],
)
def test_the_0_17_judge_keeps_the_0_17_digests(size, overrides, digest):
    """0.18.0 judges calibration periods on a clean calibration and breaks near-ties by the
    rule alone: both off is 0.17.0's judge and keeps its digest; either on is a new config."""
    assert load_config(size, overrides=[*overrides, *JUDGE_0_17]).digest == digest
    default = load_config(size, overrides=list(overrides))
    assert default.calibration.clean_validation is True
    assert default.calibration.tie_margin == 0.005
    one = [*overrides, "calibration.clean_validation=false"]
    other = [*overrides, "calibration.tie_margin=null"]
    digests = {digest, default.digest}
    digests |= {load_config(size, overrides=o).digest for o in (one, other)}
    assert len(digests) == 4


def test_period_ties_count_only_when_not_first():
    """``calibration.period_ties=first`` (0.18.0-0.22.0's rule) keeps their digest;
    ``longest``, the default since 0.23.0, is a new config."""
    assert load_config("teacher").calibration.period_ties == "longest"
    assert load_config("teacher", overrides=["calibration.period_ties=longest"]).digest == TEACHER
    assert load_config("teacher", overrides=list(TIES_0_22)).digest == TEACHER_0_22


@pytest.mark.parametrize(
    ("size", "overrides", "digest"),
    [
        ("teacher", (), TEACHER_0_18),
        ("student", (STUDENT_AUTO,), STUDENT_0_18),
        ("teacher", TEACHER_SET, TEACHER_SET_0_18),
        ("student", (*STUDENT_SET, STUDENT_AUTO), STUDENT_SET_0_18),
    ],
)
def test_the_simplest_tie_order_keeps_the_0_18_digests(size, overrides, digest):
    """0.19.0 gives a tie between fusions to those in which either detector flags alone:
    ``simplest``, mean first, is 0.18.0's order and keeps its digest."""
    assert load_config(size, overrides=[*overrides, *SIMPLEST]).digest == digest
    default = load_config(size, overrides=list(overrides))
    assert default.fusion.tie_order == "alone_first"
    assert default.digest != digest


@pytest.mark.parametrize(
    ("size", "overrides", "digest"),
    [
        ("teacher", (), TEACHER_0_19),
        ("student", (STUDENT_AUTO,), STUDENT_0_19),
        ("teacher", TEACHER_SET, TEACHER_SET_0_19),
        ("student", (*STUDENT_SET, STUDENT_AUTO), STUDENT_SET_0_19),
    ],
)
def test_validation_s_period_keeps_the_0_19_digests(size, overrides, digest):
    """0.20.0 calibrates on the deployed fusion's own period: ``fusion.period_of=
    validation``, validation's own choice's period, is 0.19.0's rule and keeps its digest."""
    assert load_config(size, overrides=[*overrides, VALIDATION_PERIOD, *TIES_0_22]).digest == (
        digest
    )
    default = load_config(size, overrides=list(overrides))
    assert default.fusion.period_of == "pick"
    assert default.digest != digest
    assert load_config(size, overrides=[*overrides, "fusion.period_of=pick"]).digest == (
        default.digest
    )


@pytest.mark.parametrize(
    ("size", "overrides", "digest"),
    [
        ("teacher", (), TEACHER_0_22),
        ("student", (STUDENT_AUTO,), STUDENT_0_22),
        ("teacher", TEACHER_SET, TEACHER_SET_0_22),
        ("student", (*STUDENT_SET, STUDENT_AUTO), STUDENT_SET_0_22),
    ],
)
def test_the_first_ties_keep_the_0_22_digests(size, overrides, digest):
    """0.23.0 gives a near-tie between calibration periods to the longest and one between
    rules to the most sensitive: ``first`` for both is 0.20.0-0.22.0's rule and keeps its
    digest; either one switched back alone is a third config."""
    assert load_config(size, overrides=[*overrides, *TIES_0_22]).digest == digest
    default = load_config(size, overrides=list(overrides))
    assert default.calibration.period_ties == "longest"
    assert default.calibration.rule_ties == "sensitive"
    one = load_config(size, overrides=[*overrides, TIES_0_22[0]]).digest
    other = load_config(size, overrides=[*overrides, TIES_0_22[1]]).digest
    assert len({digest, default.digest, one, other}) == 4
