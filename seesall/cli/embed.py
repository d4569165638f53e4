"""``seesall embed``: vectors for every image of a folder, saved as one ``.npz``."""

from __future__ import annotations

import argparse
from pathlib import Path

from seesall.tasks.embedding.embedder import (
    MODELS,
    embed_files,
    folder_labels,
    list_images,
    load_embedder,
    save_vectors,
)

HELP = "Embed every image of a folder into unit vectors (.npz with vectors, paths, labels)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="checkpoint folder of an embedding model")
    src.add_argument("--model", choices=sorted(MODELS), help="model name (random weights)")
    parser.add_argument("folder", help="folder of images (one sub-folder per class optional)")
    parser.add_argument("--out", required=True, help="output .npz file")
    parser.add_argument("--batch-size", type=int, default=64)


def run(args: argparse.Namespace) -> int:
    model, info = load_embedder(model=args.model, checkpoint=args.checkpoint)
    files = list_images(args.folder)
    vectors = embed_files(model, files, size=info["size"], batch_size=args.batch_size)
    root = Path(args.folder)
    labels, names = folder_labels(files, root)
    rel = [str(f.relative_to(root)) for f in files]
    save_vectors(args.out, vectors, rel, labels, names)
    print(f"{len(files)} images -> {vectors.shape[1]}-d vectors in {args.out}")
    return 0

