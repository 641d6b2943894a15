"""``report.html``: written by the evaluate stage beside ``results.md``, self-contained, one
section per held-out split, and drawn from the evaluate stage's own numbers (histograms
split where the protocols decide; curves whose areas are metrics.json's)."""

from __future__ import annotations

import base64
import html
import re
import shlex

import numpy as np
import pytest
from canids_models import auprc, auroc, load_config, render_run_report, write_run_report
from canids_models.report_data import load_run, reproduce_commands
from canids_models.report_figures import _decision_values, pr_points, roc_points

DS = "demo"


def _sections(text: str) -> list[tuple[str, str]]:
    return re.findall(r'<section id="[^"]+"(?: class="([^"]+)")? data-name="([^"]+)"', text)


@pytest.mark.parametrize("size", ["teacher", "student"])
def test_evaluate_writes_a_self_contained_report_beside_results_md(pipelines, size):
    outcome = pipelines.outcomes[(size, "evaluate")]
    path = pipelines.store.path(DS, size, "results", "report.html")
    assert outcome.paths["report.html"] == str(path)
    assert path.parent == pipelines.store.path(DS, size, "results", "results.md").parent
    text = path.read_text()
    held_out = outcome.metrics["held_out_splits"]
    assert len(held_out) == 5
    assert [n for kind, n in _sections(text) if kind == "split"] == held_out
    assert {k for k, _ in _sections(text)} >= {"summary", "split", "training", "profile"}
    # Self-contained: every image is an embedded PNG, nothing is fetched or run.
    images = re.findall(r'<img src="([^"]+)"', text)
    assert len(images) == 3 * len(held_out) + 2  # curves, histograms, confusions; training, profile
    for uri in images:
        assert uri.startswith("data:image/png;base64,")
        assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<script" not in text
    assert not re.search(r'(?:src|href)="(?:https?:)?//', text)
    assert "score minus its own capture's threshold" in html.unescape(text)
    fusion = f"fusion:{outcome.metrics['fusion_method']}"
    assert f"the default fusion {fusion}" in text
    # Each split says, from its captures' unlabeled clean starts, what the frozen
    # thresholds flag there: the audit's highest capture, per model.
    plain = html.unescape(text)
    for split in held_out:
        shares = outcome.metrics["audit"][split]["clean_start_frozen_alarms"]
        vgae = max(shares["vgae"].values())
        assert f"flagged by the frozen thresholds (highest capture): vgae {vgae:.2f}" in plain


def test_a_rebuild_from_the_artifacts_shows_the_same_run(pipelines, demo):
    store = pipelines.store
    first = store.path(DS, "teacher", "results", "report.html").read_text()
    text = render_run_report(store, DS, "teacher", cache_dir=demo.cache_dir)
    assert _sections(text) == _sections(first)
    # The same numbers: the summary table is metrics.json's, cell for cell.
    table = lambda t: t.split("<h2>Summary</h2>", 1)[1].split("</table>", 1)[0]  # noqa: E731
    assert table(text) == table(first)


def test_the_histograms_draw_each_protocol_s_own_decision(pipelines):
    """Frozen: flagged exactly when the score is at or above the drawn line. Calibrated:
    flagged exactly when the score minus its capture's threshold is above 0."""
    data = load_run(pipelines.store, DS, "teacher")
    checked = 0
    for split in data.splits.values():
        for model in data.models:
            for protocol in ("frozen", "calibrated"):
                values, labels, line, left_out = _decision_values(split, protocol, model)
                mask = split.scored[protocol]
                flags = split.flag[protocol, model][mask]
                assert len(values) + left_out == mask.sum()
                assert len(labels) == len(values)
                if left_out == 0:
                    np.testing.assert_array_equal(labels, split.y[mask])
                    drawn = values >= line if protocol == "frozen" else values > line
                    # float32 thresholds in scores.npz: equal up to their rounding
                    close = np.isclose(values, line, rtol=0, atol=1e-5)
                    assert np.array_equal(drawn[~close], flags[~close])
                    checked += int((~close).sum())
    assert checked > 0


def test_curves_have_the_areas_metrics_json_reports(pipelines):
    data = load_run(pipelines.store, DS, "teacher")
    compared = 0
    for split in data.splits.values():
        for model in data.models:
            for protocol in ("frozen", "calibrated"):
                mask = split.scored[protocol]
                y, s = split.y[mask], split.score[protocol, model][mask]
                row = split.row(protocol, model)
                roc = roc_points(y, s)
                if row["auroc"] is None:
                    assert roc is None or y.all()
                    continue
                fpr, tpr = roc
                assert np.trapezoid(tpr, fpr) == pytest.approx(auroc(y, s), abs=1e-3)
                assert np.trapezoid(tpr, fpr) == pytest.approx(row["auroc"], abs=2e-3)
                recall, precision = pr_points(y, s)
                step = float(np.sum(np.diff(recall) * precision[1:]))
                assert step == pytest.approx(auprc(y, s), abs=1e-3)
                compared += 1
    assert compared >= 20


def test_the_reproduce_commands_rebuild_this_run(pipelines):
    data = load_run(pipelines.store, DS, "student", manifest=None)
    commands = [shlex.join(c) for c in reproduce_commands(data)]
    assert commands[-1] == "canids-report --dataset demo --size student --run session --force"
    stages = [c.split()[1] for c in commands[:-1]]
    assert stages == ["vgae", "gat", "fusion", "evaluate"]
    vgae = reproduce_commands(data)[0]
    assert vgae[:8] == ["canids-train", "vgae", "--dataset", "demo", "--size", "student"] + [
        "--run",
        "session",
    ]
    assert "--distill-from" in vgae
    sets = [vgae[i + 1] for i, a in enumerate(vgae) if a == "--set"]
    assert "train.epochs=2" in sets
    assert "calibration.seconds_grid=[0.2,0.4]" in sets
    # The --set items give back the stage's config exactly (and so its digest).
    for command, key in zip(
        reproduce_commands(data)[:4], ("vgae", "gat", "fusion", "results"), strict=True
    ):
        items = [command[i + 1] for i, a in enumerate(command) if a == "--set"]
        recorded = pipelines.store.read_json(DS, "student", key, "config.json")["config"]
        assert load_config("student", None, items).to_dict() == recorded


def test_without_a_cache_the_page_says_what_is_missing(pipelines, copy_artifacts, tmp_path):
    store = copy_artifacts(
        pipelines.store, [("teacher", k) for k in ("vgae", "gat", "fusion", "results")]
    )
    warnings: list[str] = []
    path = write_run_report(
        store, DS, "teacher", cache_dir=tmp_path / "no-cache", on_warning=warnings.append
    )
    text = path.read_text()
    assert "Not drawn:" in text
    assert len(re.findall(r'<img src="data:image/png', text)) == 3 * 5 + 1  # no profile
    assert len(warnings) == 1
    assert "graph-size profile" in warnings[0]
    assert "canids-cache build --dataset demo" in warnings[0]
