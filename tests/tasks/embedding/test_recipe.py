"""The embedding recipe trains through the shared engine and saves a checkpoint ``seesall
embed`` can load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from seesall.engine.config import DataConfig, ModelConfig, RunConfig, TrainerConfig
from seesall.engine.run import train
from seesall.tasks.embedding import recipe
from seesall.tasks.embedding.embedder import embed_files, load_embedder


def test_recipe_trains_and_checkpoint_embeds(tmp_path: Path) -> None:
    cfg = RunConfig(
        task_name="embedding", out=str(tmp_path / "run"),
        model=ModelConfig(name="convnet_digits"),
        data=DataConfig(source="digits", image_size=8, batch_size=32, val_size=64),
        trainer=TrainerConfig(max_steps=6, log_every=3, eval_every=6, checkpoint_every=6,
                              progress=False, device="cpu"),
        task=recipe.TaskConfig(miner="batch_hard", dim=16),
    )
    parts = recipe.build(cfg)
    images, labels, _ = recipe.collate([parts.train_set[i] for i in range(32)])
    emb = parts.model(*parts.inputs((images, labels)))
    losses = parts.loss(emb, (images, labels))
    assert emb.shape == (32, 16) and losses["total"].requires_grad
    ev = parts.make_evaluator()
    ev.update(emb, (images, labels))
    assert 0 <= ev.compute()["map_at_r"] <= 1
    out = train(cfg, recipe)
    assert "map_at_r" in str(out)
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(folder / "x.png")
    model, info = load_embedder(checkpoint=str(tmp_path / "run"))
    assert info["model"] == "convnet_digits"
    vec = embed_files(model, [folder / "x.png"], size=info["size"])
    assert vec.shape == (1, 16)
    torch.testing.assert_close(torch.from_numpy(vec).norm(dim=1), torch.ones(1))
