"""Ensemble checkpoints: safetensors weights plus a manifest that says how to feed them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from importlib import resources

import torch

from .. import columns as C
from ..core.ensemble import Ensemble
from ..core.models import GalaxyNet, ModelSpec, create_model
from .objects import filesystem, join, with_retries

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "catalog_xai-ensemble/1"
#: Ensembles that ship inside the package, by name.
BUILTIN_CHECKPOINTS = ("sdss-finetuned", "synthetic-small", "saliency-lab", "saliency-real", "saliency-evidence",
                       "sdss-dirichlet")
DEFAULT_CHECKPOINT = "sdss-finetuned"
#: The default ensemble for the saliency maps and bar lengths, beside DEFAULT_CHECKPOINT's
#: fractions: the only one whose lengths follow the truth on generated, differently rendered
#: and real bars at once (docs/bar-lab-notebook.md, round G); its fractions are worse than
#: DEFAULT_CHECKPOINT's.
DEFAULT_BAR_CHECKPOINT = "saliency-evidence"


def builtin_checkpoint_path(name: str) -> str:
    """Directory of a built-in ensemble inside the installed package.

    Raises
    ------
    ValueError
        If ``name`` is not one of ``BUILTIN_CHECKPOINTS``.
    """
    if name not in BUILTIN_CHECKPOINTS:
        raise ValueError(f"Unknown built-in ensemble {name!r}; built-in: {BUILTIN_CHECKPOINTS}")
    return str(resources.files("catalog_xai") / "weights" / name)


def resolve_checkpoint(location: str) -> str:
    """A built-in ensemble name, or a directory URL holding manifest.json."""
    return builtin_checkpoint_path(location) if location in BUILTIN_CHECKPOINTS else location


def save_ensemble(models: Iterable[GalaxyNet], url: str, *, name: str, training_data: str, extra: dict | None = None,
                  storage_options: dict | None = None) -> dict:
    """Write each model as safetensors plus a manifest describing how to feed it."""
    from safetensors.torch import save

    fs, path = filesystem(url, storage_options)
    fs.makedirs(path, exist_ok=True)
    entries = []
    for model in models:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        blob = save(state)
        fname = f"{model.spec.architecture}.safetensors"
        taken = {e["file"] for e in entries}
        k = 1
        while fname in taken:  # members of one architecture (different seeds) get their own files
            k += 1
            fname = f"{model.spec.architecture}-{k}.safetensors"
        with fs.open(join(path, fname), "wb") as f:
            f.write(blob)
        entries.append({"file": fname, "sha256": hashlib.sha256(blob).hexdigest(), "spec": model.spec.to_dict()})
    manifest = {
        "format": MANIFEST_FORMAT,
        "name": name,
        "training_data": training_data,
        "output_columns": list(C.CUMULATIVE_COLUMNS),
        "score_target": f"Class{C.KAGGLE_IDS[C.BAR_YES_INDEX]} logit (pre-activation)",
        "models": entries,
        **(extra or {}),
    }
    with fs.open(join(path, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def read_manifest(location: str, storage_options: dict | None = None) -> dict:
    """An ensemble's manifest (built-in name or directory URL), without loading its weights.

    Raises
    ------
    FileNotFoundError
        If the location holds no ``manifest.json``.
    RetriesExhausted
        If the storage kept failing transiently.
    """
    url = resolve_checkpoint(location)
    fs, path = filesystem(url, storage_options)
    try:
        return json.loads(with_retries(lambda: fs.cat_file(join(path, MANIFEST)), what=f"read {url}/{MANIFEST}"))
    except FileNotFoundError:
        raise FileNotFoundError(f"No {MANIFEST} under checkpoint location {url!r}") from None


def load_ensemble(location: str, storage_options: dict | None = None, device: str = "cpu") -> Ensemble:
    """Load an ensemble from a built-in name or a directory URL; never unpickles.

    Raises
    ------
    FileNotFoundError
        If the location holds no ``manifest.json``.
    ValueError
        If the manifest's format or output columns are not this version's, a weight file's
        checksum does not match, or an architecture is unknown.
    RetriesExhausted
        If the storage kept failing transiently.
    """
    from safetensors.torch import load

    url = resolve_checkpoint(location)
    fs, path = filesystem(url, storage_options)
    manifest = read_manifest(location, storage_options)
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{url}: unsupported manifest format {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    if list(manifest.get("output_columns", [])) not in (list(C.CUMULATIVE_COLUMNS), list(C.LEGACY_OUTPUT_COLUMNS)):
        raise ValueError(f"{url}: the ensemble's output columns are not the 37 GZ2 answers of this version")
    models = []
    for entry in manifest["models"]:
        blob = with_retries(lambda entry=entry: fs.cat_file(join(path, entry["file"])),
                            what=f"read {url}/{entry['file']}")
        digest = hashlib.sha256(blob).hexdigest()
        if entry.get("sha256") and digest != entry["sha256"]:
            raise ValueError(f"{url}/{entry['file']}: checksum mismatch "
                             f"(file {digest[:12]}, manifest {entry['sha256'][:12]})")
        spec = dict(entry["spec"])
        # Manifests before format 1.1 kept the framing beside the models, not in each spec.
        spec.setdefault("framing", manifest.get("framing", {}).get("training_images_framed_with", "native"))
        model = create_model(ModelSpec.from_dict(spec))
        model.load_state_dict(load(blob), strict=True)
        models.append(model)
    manifest = dict(manifest, location=url)
    return Ensemble(models, manifest).to(device)


def ensemble_hash(manifest: dict) -> str:
    """Short identity of an ensemble: the hash of its weight-file hashes."""
    h = hashlib.sha256("".join(m["sha256"] for m in manifest["models"]).encode())
    return h.hexdigest()[:16]




# ------------------------------------------------------------ training state
def save_train_state(state: dict, path: str) -> None:
    """Write a training state (``train_model``'s ``on_epoch`` argument) to a local file."""
    torch.save(state, path)


def load_train_state(path: str) -> dict:
    """Read a training state; ``weights_only`` so a tampered file cannot run code on load."""
    return torch.load(path, map_location="cpu", weights_only=True)


def load_weights(path: str) -> dict:
    """A model's weights from a saved state dict, a training state (its best weights so far), or a
    member's ``.safetensors`` file of a packaged ensemble."""
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    state = load_train_state(path)
    if "history" in state:  # a training state (``train_model``'s ``on_epoch``)
        state = state["best_model"] or state["model"]
    return state
