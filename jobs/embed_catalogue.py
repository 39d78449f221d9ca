"""t-SNE map of the ensemble's embeddings, five classes, outliers and look-alikes (``cxai-embed``; ``--help``)."""

import sys

from catalog_xai.cli.embed_catalogue import main

if __name__ == "__main__":
    sys.exit(main())
