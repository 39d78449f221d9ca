"""Package trained members (``train_bar_ensemble.py`` outputs) as a catalog_xai ensemble directory.

    python scripts/package_bar_ensemble.py runs/bar-lab/A/silu_slim-s0.pt --out runs/bar-lab/ensA \
        --name bar-lab-A --training-data "5000 generated galaxies" [--method '{"tc": 0.8}']

A ``.state.pt`` (an unfinished run's saved state) is packaged from its best weights so far.
``--method`` stores method parameters in the manifest: the ensemble's own defaults.
"""
from __future__ import annotations

import argparse
import json

from catalog_xai.core.models import ModelSpec, create_model, default_spec
from catalog_xai.storage import save_ensemble
from catalog_xai.storage.checkpoints import load_train_state, load_weights


def load_member(path: str, architecture: str, framing: str, crop_fraction: float, last: bool = False):
    state = load_train_state(path)["model"] if last else load_weights(path)
    meta = path.replace(".state.pt", ".json").replace(".pt", ".json")
    try:
        spec = ModelSpec.from_dict(json.load(open(meta))["spec"])
    except (OSError, KeyError):
        spec = default_spec(architecture, framing=framing, crop_fraction=crop_fraction)
    model = create_model(spec)
    model.load_state_dict(state)
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("members", nargs="+")
    ap.add_argument("--architecture", default="silu_slim")
    ap.add_argument("--framing", default="measured", help="as trained (when no <member>.json says)")
    ap.add_argument("--crop-fraction", type=float, default=0.25, help="as trained (when no <member>.json says)")
    ap.add_argument("--last", action="store_true",
                    help="a .state.pt's last epoch, not its best vote RMSE (the maps may improve after the votes do)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--training-data", default="generated galaxies (scripts/train_bar_ensemble.py)")
    ap.add_argument("--method", default=None, help="JSON of method parameters for the manifest")
    ap.add_argument("--extra", default=None, help="JSON of further manifest entries (provenance)")
    args = ap.parse_args()
    models = [load_member(p, args.architecture, args.framing, args.crop_fraction, args.last) for p in args.members]
    extra = json.loads(args.extra) if args.extra else {}
    if args.method:
        extra["method"] = json.loads(args.method)
    save_ensemble(models, args.out, name=args.name, training_data=args.training_data, extra=extra)
    print(f"wrote {args.out} ({len(models)} members)")


if __name__ == "__main__":
    main()
