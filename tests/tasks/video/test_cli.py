"""``seesall predict`` on action checkpoints and ``seesall eval action``: hand-computed top-1 /
top-5, predictions that agree with the model run directly, the blink knob, bad input named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seesall.cli.main import main
from seesall.data.folder import ClipFolder
from seesall.engine.run import load_trained_model
from seesall.tasks.video import recipe
from seesall.tasks.video.cli import clip_inputs, evaluate_files, fit_clip
from seesall.tasks.video.models import normalize_video

SIZE, T = 32, 8
TRAIN = ["--max-steps", "2", "--train-size", "2", "--val-size", "0", "--image-size", str(SIZE),
         "--batch-size", "2", "--no-progress", "--threads", "1"]


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_eval_top1_top5_hand_computed(tmp_path):
    actions = ["a", "b", "c", "d", "e", "f"]
    gt = _write(tmp_path / "clips.json", {"actions": actions, "clips": [
        {"id": 1, "path": "clips/000001", "action": 0},
        {"id": 2, "path": "clips/000002.mp4", "action": 1},
        {"id": 3, "path": "clips/000003", "action": 5}]})
    ranked = {"000001": "abcdef", "000002": "cdebaf", "000003": "fabcde"}  # right, 5th, right
    pred = _write(tmp_path / "pred.json", {"results": {
        k: [{"label": c, "score": 1.0 - 0.1 * i} for i, c in reversed(list(enumerate(r)))]
        for k, r in ranked.items()}})
    m = evaluate_files(tmp_path, pred)
    assert m["top1"] == pytest.approx(200 / 3) and m["top5"] == pytest.approx(100.0)
    assert m["top1/b"] == 0.0 and m["mean_class_top1"] == pytest.approx(200 / 3)
    assert main(["eval", "action", "--gt", str(gt), "--pred", str(pred), "--out", str(tmp_path / "m.json")]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["top5"] == pytest.approx(100.0)


def test_eval_names_bad_input(tmp_path):
    gt = _write(tmp_path / "clips.json", {"actions": ["a"], "clips": [{"id": 1, "path": "clips/000001", "action": 0}]})
    missing = _write(tmp_path / "missing.json", {"results": {}})
    with pytest.raises(ValueError, match="no prediction for 1 clip"):
        evaluate_files(gt, missing)
    bad = _write(tmp_path / "bad.json", {"results": {"000001": [{"label": "a"}]}})
    with pytest.raises(ValueError, match=r"bad.json: results\['000001'\]"):
        evaluate_files(gt, bad)
    nan = _write(tmp_path / "nan.json", {"results": {"000001": [{"label": "a", "score": float("nan")}]}})
    with pytest.raises(ValueError, match="NaN"):
        evaluate_files(gt, nan)
    tie = _write(tmp_path / "tie.json", {"results": {"000001": [{"label": "b", "score": 0.5},
                                                                {"label": "a", "score": 0.5}]}})
    assert evaluate_files(gt, tie)["top1"] == 0.0 and evaluate_files(gt, tie)["top5"] == 100.0
    bad_gt = _write(tmp_path / "bad_gt.json", {"actions": ["a"], "clips": [{"id": 1, "path": "x", "action": 1}]})
    with pytest.raises(ValueError, match=r"bad_gt.json: malformed clips file \(clips\[0\].action"):
        evaluate_files(bad_gt, tie)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json: not valid JSON"):
        evaluate_files(gt, broken)


def test_fit_clip_takes_the_central_frames_and_square():
    video = torch.zeros(12, 3, 40, 60, dtype=torch.uint8)
    video[:, 0] = torch.arange(60, dtype=torch.uint8)  # column index
    video[:, 1] = torch.arange(12, dtype=torch.uint8).view(12, 1, 1)  # frame index
    out = fit_clip(video, 4, 40)
    assert out.shape == (4, 3, 40, 40)
    assert out[:, 1, 0, 0].tolist() == [4, 5, 6, 7]  # consecutive, centred: (12 - 4) // 2 = 4
    assert out[0, 0, 0, [0, -1]].tolist() == [10, 49]  # columns 10..49 of 60
    assert fit_clip(video, None, 20).shape == (12, 3, 20, 20)
    with pytest.raises(ValueError, match="short.mp4: 12 frames, the model takes clips of 16"):
        fit_clip(video, 16, 40, name="short.mp4")


def test_clip_inputs_tells_one_clip_from_a_folder_of_clips(tmp_path):
    from seesall.io.video import write_video

    frames = torch.randint(0, 255, (3, 3, 16, 16), dtype=torch.uint8)
    root = tmp_path / "many"
    write_video(root / "a.mp4", frames)
    write_video(root / "b", frames)  # a frame folder
    (root / "b" / "sub").mkdir()  # a subfolder does not make it a folder of clips
    (root / "c").mkdir()
    (root / "c" / "gt.txt").write_text("1,1,0,0,1,1,1,0,1\n")  # no frames: not a clip
    (root / ".hidden").mkdir()
    assert clip_inputs(root) == [("a", root / "a.mp4"), ("b", root / "b")]
    assert clip_inputs(root / "b") == [("b", root / "b")]
    assert clip_inputs(root / "a.mp4") == [("a", root / "a.mp4")]
    write_video(root / "a", frames)
    with pytest.raises(ValueError, match="would both be clip 'a'"):
        clip_inputs(root)
    with pytest.raises(ValueError, match="no video file or frame folder"):
        clip_inputs(root / "c")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    assert main(["world", "--task", "action", "--n", "3", "--size", str(SIZE), "--clip-length", "10",
                 "--seed", "7", "--out", str(folder)]) == 0
    return folder


@pytest.mark.parametrize("model", ["r3d_motion", "causal3d_motion"])
def test_predict_writes_results_that_eval_reads_and_match_the_model(tmp_path, clips, model):
    run, out = tmp_path / "run", tmp_path / "out"
    assert main(["train", "action", "--model", model, *TRAIN, "--out", str(run)]) == 0
    assert main(["predict", str(run), str(clips), "--out", str(out)]) == 0
    results = json.loads((out / "predictions.json").read_text())["results"]
    net, _, meta = load_trained_model(run, recipe)
    data = ClipFolder(clips)
    assert sorted(results) == sorted(Path(e["path"]).stem for e in data.entries)
    for i, entry in enumerate(data.entries):
        video = fit_clip(data[i].video.as_subclass(torch.Tensor), T, SIZE)
        with torch.no_grad():
            probs = net(normalize_video(video[None])).softmax(dim=1)[0]
        ranked = results[Path(entry["path"]).stem]
        assert ranked[0]["label"] == meta["class_names"][int(probs.argmax())]
        assert ranked[0]["score"] == pytest.approx(float(probs.max()), abs=1e-5)
        assert (out / f"{Path(entry['path']).stem}_pred.png").is_file()
    assert main(["eval", "action", "--gt", str(clips), "--pred", str(out / "predictions.json")]) == 0


def test_predict_blink_and_delta_knobs_need_a_causal_model_and_report_savings(tmp_path, clips, capsys):
    run = tmp_path / "run"
    assert main(["train", "action", "--model", "causal3d_motion", *TRAIN, "--out", str(run)]) == 0
    every = tmp_path / "every"
    assert main(["predict", str(run), str(clips), "--out", str(every), "--blink", "0"]) == 0
    results = json.loads((every / "predictions.json").read_text())["results"]
    net, _, meta = load_trained_model(run, recipe)
    data = ClipFolder(clips)
    for i, entry in enumerate(data.entries):  # threshold 0 streams every frame: the offline model on all 10
        video = fit_clip(data[i].video.as_subclass(torch.Tensor), None, SIZE)
        with torch.no_grad():
            probs = net(normalize_video(video[None])).softmax(dim=1)[0]
        top = results[Path(entry["path"]).stem][0]
        assert top["label"] == meta["class_names"][int(probs.argmax())]
        assert top["score"] == pytest.approx(float(probs.max()), abs=1e-5)
    capsys.readouterr()
    assert main(["predict", str(run), str(clips), "--out", str(tmp_path / "skip"), "--blink", "1.1"]) == 0
    assert "90.0 % of the frames skipped" in capsys.readouterr().out  # only frame 0 of 10 processed
    assert main(["predict", str(run), str(clips), "--out", str(tmp_path / "bound"), "--blink", "1.1",
                 "--max-skip", "1"]) == 0
    assert "50.0 % of the frames skipped" in capsys.readouterr().out  # frames 0, 2, 4, 6, 8
    assert main(["predict", str(run), str(clips), "--out", str(tmp_path / "b"), "--max-skip", "1"]) != 0
    assert "--max-skip needs --blink" in capsys.readouterr().err
    assert main(["predict", str(run), str(clips), "--out", str(tmp_path / "neg"), "--blink", "-1"]) != 0
    assert "--blink must be >= 0" in capsys.readouterr().err
    capsys.readouterr()
    delta = tmp_path / "delta"  # the exact delta stream: the offline model's predictions again
    assert main(["predict", str(run), str(clips), "--out", str(delta), "--delta", "0"]) == 0
    assert "% of the dense multiply-adds spent" in capsys.readouterr().out
    for stem, ranked in json.loads((delta / "predictions.json").read_text())["results"].items():
        assert ranked[0]["label"] == results[stem][0]["label"]
        assert ranked[0]["score"] == pytest.approx(results[stem][0]["score"], abs=1e-4)
    assert main(["predict", str(run), str(clips), "--out", str(tmp_path / "d"), "--delta", "0",
                 "--blink", "0"]) != 0
    assert "give one" in capsys.readouterr().err
    assert main(["predict", str(run), str(clips), "--out", str(tmp_path / "d"), "--delta", "-1"]) != 0
    assert "--delta must be >= 0" in capsys.readouterr().err
    r3d = tmp_path / "r3d"
    assert main(["train", "action", "--model", "r3d_motion", *TRAIN, "--out", str(r3d)]) == 0
    assert main(["predict", str(r3d), str(clips), "--out", str(tmp_path / "x"), "--blink", "0.1"]) != 0
    assert "--blink needs a causal model" in capsys.readouterr().err
    assert main(["predict", str(r3d), str(clips), "--out", str(tmp_path / "x"), "--delta", "0"]) != 0
    assert "--delta needs a causal model" in capsys.readouterr().err
