"""A static HTML gallery of a catalogue and its saved saliency maps (``cxai-gallery``; ``--help`` lists the options)."""

import sys

from catalog_xai.cli.gallery import main

if __name__ == "__main__":
    sys.exit(main())
