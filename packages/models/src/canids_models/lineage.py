"""Whether the artifacts a stage reads are the ones its config and their own records
describe: checked before the stage loads or writes anything (canids-models 0.27.0).

Two mixes used to pass unseen, each giving figures whose record names something that did
not make them:

- **another config.** A fusion stage run with ``--set train.seed=1`` over seed 0's
  detectors (a restart with a new seed, a ``--from-stage fusion`` with a new ``gat.*``)
  wrote seed 1's config and digest beside seed 0's weights. Each artifact is compared
  with the reading stage's config on the keys that describe it
  (:func:`describing_keys`): its model's section, the seed, the curriculum schedule (a
  curriculum GAT), the distillation keys its training reads (a distilled one); a fusion
  artifact on the calibration, DQN, fusion and eval sections and the seed. What a stage
  sets for its own work only is not compared: ``train.epochs``, ``lr``,
  ``weight_decay`` and ``patience`` (the detectors share the ``train`` section, and each
  training stage may train for its own length), ``batching`` and
  ``curriculum.score_chunk`` (memory: ``canids-jobs remediate`` halves one stage's
  budget), the device, backend, threads, workers, CPU kernels and determinism switch.
- **an input made again since.** A fusion whose thresholds were fitted on a GAT trained
  again afterwards, a GAT whose curriculum came from a VGAE since retrained, a student
  distilled from a teacher trained again. Each DONE record lists the finished stamp of
  every artifact its stage read (``read``; a detector's in ``training.read``); a stamp
  that differs from the one on disk now is refused. An input that is no longer in the
  store (an artifact copied alone, a pruned teacher) cannot be compared and is not.

A third, the cache: each DONE record also carries the identity of the cache the stage
read (:func:`cache_identity`: its build config's digest and the checksum of every
array), so that a detector trained before the cache was rebuilt with other features,
windows or splits (another validation rule, a test capture moved into training) is not
read beside windows it never saw, or saw as training. A rebuild of the same captures
under the same config writes the same arrays and keeps the identity.

A record written before a key existed is compared with that key's default, as the
preset of the artifact's size gives it; one written before 0.27.0 has no ``read`` or
``cache``, and only its config is compared.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from canids_core import quoted_command

from .artifacts import ArtifactStore
from .catalog import STAGES, stage_inputs
from .config import FUSION_ONLY_SECTIONS, RunConfig
from .errors import LineageError, ModelsError

if TYPE_CHECKING:  # the context imports torch; preflight reads this module without it
    from .context import StageContext

__all__ = [
    "cache_identity",
    "config_mismatches",
    "describing_keys",
    "input_problems",
    "lineage_problems",
    "read_stamps",
    "require_current_inputs",
    "stale_inputs",
]

# The per-run identity of every artifact: one seed's fusion over another seed's detectors
# is a mix a seed study cannot see in its table.
_SEED = ("train.seed",)
# What each distilled detector's training reads of the distill section, and a curriculum
# GAT of the curriculum section (``score_chunk`` is memory: not compared).
_DISTILL = {
    "vgae": ("distill.latent_weight",),
    "gat": ("distill.temperature", "distill.alpha", "distill.select"),
}
_CURRICULUM = tuple(
    f"curriculum.{k}"
    for k in ("start_ratio", "end_ratio", "start_percentile", "end_percentile", "ramp_epochs")
)


def cache_identity(manifest: dict[str, Any]) -> str:
    """What a stage read of a cache, from its manifest: the build config's digest and each
    array's checksum (not the build's id, time, host or the captures' folder)."""
    content = {
        "config_digest": manifest["config_digest"],
        "arrays": {name: spec["sha256"] for name, spec in manifest["arrays"].items()},
    }
    blob = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def describing_keys(
    key: str, record: dict[str, Any], config_json: dict[str, Any]
) -> tuple[str, ...]:
    """The config sections (``gat``) and keys (``train.seed``) that say what artifact
    ``key`` is, from its DONE record (the stage that made it) and its config.json."""
    if key == "fusion":
        return (*FUSION_ONLY_SECTIONS, "eval", *_SEED)
    if key not in ("vgae", "gat"):
        raise ModelsError(f"artifact {key} is read by no stage: nothing describes it")
    keys: tuple[str, ...] = (key, *_SEED)
    if record.get("stage") == "gat_curriculum":
        keys += _CURRICULUM
    if config_json.get("distill_from") is not None:
        keys += _DISTILL[key]
    return keys


def _flat(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        section, _, field = name.partition(".")
        values = data.get(section, {})
        if field:
            if field in values:
                out[name] = values[field]
        else:
            out |= {f"{section}.{k}": v for k, v in values.items()}
    return out


def config_mismatches(
    store: ArtifactStore, dataset: str, size: str, key: str, config: RunConfig
) -> list[tuple[str, Any, Any]]:
    """``(key, the artifact's value, the config's value)`` for each describing key where
    the artifact's recorded config and ``config`` differ."""
    return _mismatches(store, dataset, size, key, store.done_record(dataset, size, key), config)


def _mismatches(
    store: ArtifactStore,
    dataset: str,
    size: str,
    key: str,
    record: dict[str, Any],
    config: RunConfig,
) -> list[tuple[str, Any, Any]]:
    config_json = store.read_json(dataset, size, key, "config.json")
    recorded = config_json.get("config")
    if not isinstance(recorded, dict):
        raise LineageError(
            f"{store.path(dataset, size, key, 'config.json')} records no config: the "
            f"artifact cannot be checked against the config given here; make it again: "
            f"{store.train_command(_producer(key, record), dataset, size)}"
        )
    names = describing_keys(key, record, config_json)
    defaults = _flat(RunConfig.preset(str(recorded.get("size", size))).to_dict(), names)
    theirs = defaults | _flat(recorded, names)
    ours = _flat(config.to_dict(), names)
    return [(k, theirs[k], v) for k, v in ours.items() if k in theirs and theirs[k] != v]


def read_stamps(store: ArtifactStore, dataset: str, refs: list[tuple[str, str]]) -> dict[str, str]:
    """``{"size/key": finished stamp}`` of the ``(size, key)`` artifacts a stage read: the
    ``read`` of its DONE record, compared by every later reader."""
    return {
        f"{size}/{key}": str(store.done_record(dataset, size, key)["finished"])
        for size, key in refs
    }


def _recorded_reads(record: dict[str, Any]) -> dict[str, str]:
    """What a DONE record says its stage read: ``read``, or a detector's ``training.read``."""
    read = record.get("read")
    if read is None:
        read = (record.get("training") or {}).get("read", {})
    return {str(k): str(v) for k, v in read.items()}


def stale_inputs(
    store: ArtifactStore, dataset: str, size: str, key: str
) -> list[tuple[str, str, str]]:
    """``(input as size/key, the stamp the artifact was made from, the stamp on disk)``
    for each input of ``key`` made again since; inputs no longer in the store are not
    compared."""
    return _stale(store, dataset, store.done_record(dataset, size, key))


def _stale(
    store: ArtifactStore, dataset: str, record: dict[str, Any]
) -> list[tuple[str, str, str]]:
    out = []
    for name, stamp in _recorded_reads(record).items():
        their_size, _, their_key = name.partition("/")
        if not store.is_done(dataset, their_size, their_key):
            continue
        now = str(store.done_record(dataset, their_size, their_key)["finished"])
        if now != stamp:
            out.append((name, stamp, now))
    return out


def _producer(key: str, record: dict[str, Any]) -> str:
    stage = record.get("stage")
    if isinstance(stage, str) and stage in STAGES:
        return stage
    return next(name for name, spec in STAGES.items() if spec.produces == key)


def _value(value: Any) -> str:
    """``value`` as ``--set`` parses it back: JSON, but a string that is not JSON bare."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except json.JSONDecodeError:
            return value
    return json.dumps(value)


def _items(pairs: list[tuple[str, Any]]) -> list[str]:
    return [word for k, v in pairs for word in ("--set", f"{k}={_value(v)}")]


def lineage_problems(
    store: ArtifactStore,
    dataset: str,
    size: str,
    key: str,
    config: RunConfig | None,
    cache: str | None = None,
) -> list[str]:
    """Each reason why a stage running ``config`` on the cache of identity ``cache`` may
    not read artifact ``key`` of ``size`` (done), with its fix; ``config`` None compares
    the inputs' stamps only (an artifact of another size: its config is its own), and
    ``cache`` None does not compare the cache."""
    where = store.dir(dataset, size, key)
    record = store.done_record(dataset, size, key)
    command = store.train_command(_producer(key, record), dataset, size)
    problems = []
    if config is not None:
        diff = _mismatches(store, dataset, size, key, record, config)
        recorded = store.path(dataset, size, key, "config.json")
        if diff:
            lines = "; ".join(
                f"{k}: {json.dumps(a)} there, {json.dumps(b)} here" for k, a, b in diff
            )
            again = quoted_command(_items([(k, b) for k, _, b in diff]))
            theirs = quoted_command(_items([(k, a) for k, a, _ in diff]))
            problems.append(
                f"artifact {key} ({size}) of {dataset} was made under another config than "
                f"the one given here ({lines}; {recorded}): a stage reading it would record "
                f"a config that did not make it. Make it again under this one: {command} "
                f"{again} (with the rest of the settings given here), or give the stages "
                f"that read it its values: {theirs}"
            )
    made_on = record.get("cache")
    if cache is not None and made_on is not None and made_on != cache:
        problems.append(
            f"artifact {key} ({size}) of {dataset} ({where}) was made on another build of "
            f"the {dataset} cache than the one there now (identity {str(made_on)[:12]}, now "
            f"{cache[:12]}: rebuilt since with other features, windows, splits or "
            f"captures), so its windows are not the ones it saw: make it again on this "
            f"cache: {command} (with this run's settings)"
        )
    for name, stamp, now in _stale(store, dataset, record):
        problems.append(
            f"artifact {key} ({size}) of {dataset} ({where}) was made from {name} finished "
            f"{stamp}, but the {name} there now finished {now} (made again since): make "
            f"{key} again from it: {command} (with this run's settings)"
        )
    return problems


def input_problems(
    store: ArtifactStore,
    dataset: str,
    size: str,
    stage: str,
    config: RunConfig,
    distill_from: str | None = None,
    *,
    cache: str | None = None,
    skip: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
) -> list[str]:
    """:func:`lineage_problems` of every done input of ``stage`` (the catalogue's) on the
    cache of identity ``cache``, but those in ``skip`` (``(key, size)`` made again before
    it, in the same plan)."""
    problems: list[str] = []
    for ref in stage_inputs(stage, size, distill_from):
        if (ref.key, ref.size) in skip or not store.is_done(dataset, ref.size, ref.key):
            continue
        same = config if ref.size == size else None
        problems += lineage_problems(store, dataset, ref.size, ref.key, same, cache)
    return problems


def require_current_inputs(ctx: StageContext, stage: str) -> None:
    """Raise :class:`LineageError` listing :func:`input_problems` of ``stage`` run in
    ``ctx`` (its config, distillation and the cache it reads), if any."""
    problems = input_problems(
        ctx.store,
        ctx.dataset,
        ctx.size,
        stage,
        ctx.config,
        ctx.distill_from,
        cache=cache_identity(ctx.split("train").manifest.data),
    )
    if problems:
        raise LineageError(
            f"stage {stage} ({ctx.size}) of {ctx.dataset} refuses its inputs:\n  - "
            + "\n  - ".join(problems)
        )
