"""stepscope_io without PyTorch: a model saved by save_model replays in Stepscope as the reference ran it.

The golden model files are fast-transformers' own state_dict, so handing their arrays to save_model
(as a mapping, and as a module-like object with state_dict() and tensor-like values) stands in for
`save_model(path, builder.get(), config)`; `stepscope replay` must then reproduce the golden y within
1e-4. Usage: test_stepscope_io.py STEPSCOPE_BINARY GOLDEN_DIR PYTHON_DIR
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

BINARY, GOLDEN, PYTHON_DIR = sys.argv[1:4]
sys.path.insert(0, PYTHON_DIR)
import stepscope_io  # noqa: E402


class FakeTensor:
    """What save_model reads of a torch tensor: detach().cpu().numpy()."""

    def __init__(self, array):
        self.array = array

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.array


class FakeModule:
    def __init__(self, arrays):
        self.arrays = arrays

    def state_dict(self):
        return {name: FakeTensor(array) for name, array in self.arrays.items()}


class StepscopeIoTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.folder.cleanup()

    def golden(self, case, name):
        return os.path.join(GOLDEN, case, name)

    def replay(self, model_path, case):
        output = os.path.join(self.folder.name, case + ".out.safetensors")
        run = subprocess.run([BINARY, "replay", "--model", model_path, "--inputs", self.golden(case, "io.safetensors"),
                              "--output", output], capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stderr)
        produced, _ = stepscope_io.load_safetensors(output)
        return produced

    def test_saved_models_replay_the_golden_cases(self):
        for case in ("enc_linear", "enc_full", "dec_linear", "enc_delta", "enc_gated_delta", "enc_gated_linear"):
            weights, metadata = stepscope_io.load_safetensors(self.golden(case, "model.safetensors"))
            with open(self.golden(case, "config.json")) as source:
                config = json.load(source)
            for source in (weights, FakeModule(weights)):
                path = os.path.join(self.folder.name, case + ".safetensors")
                stepscope_io.save_model(path, source, config)
                saved, saved_metadata = stepscope_io.load_safetensors(path)
                self.assertEqual(sorted(saved), sorted(weights))
                self.assertEqual(json.loads(saved_metadata["config"]), config)
                expected, _ = stepscope_io.load_safetensors(self.golden(case, "io.safetensors"))
                produced = self.replay(path, case)
                worst = float(np.abs(produced["y"] - expected["y"]).max())
                self.assertLessEqual(worst, 1e-4, "%s: worst |y - golden y| %g" % (case, worst))

    def test_token_head_round_trips(self):
        weights, _ = stepscope_io.load_safetensors(self.golden("enc_linear", "model.safetensors"))
        with open(self.golden("enc_linear", "config.json")) as source:
            config = json.load(source)
        width = config["n_heads"] * config["value_dimensions"]
        rng = np.random.default_rng(1)
        embedding = rng.standard_normal((3, width)).astype(np.float32)
        readout = rng.standard_normal((3, width)).astype(np.float32)
        path = os.path.join(self.folder.name, "tokens.safetensors")
        stepscope_io.save_model(path, weights, config, embedding=FakeTensor(embedding), readout=readout,
                                vocabulary=["a", "b", "c"], task={"name": "demo"})
        saved, metadata = stepscope_io.load_safetensors(path)
        np.testing.assert_array_equal(saved["embedding.weight"], embedding)
        np.testing.assert_array_equal(saved["readout.weight"], readout)
        self.assertEqual(json.loads(metadata["vocabulary"]), ["a", "b", "c"])
        self.assertEqual(json.loads(metadata["task"])["name"], "demo")
        run = subprocess.run([BINARY, "generate", "--model", path, "--prompt", "ab", "--steps", "3"],
                             capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(len(run.stdout.strip()), 5)
        self.assertTrue(set(run.stdout.strip()) <= set("abc"))

    def test_bad_calls_are_refused_and_leave_no_file(self):
        weights, _ = stepscope_io.load_safetensors(self.golden("enc_linear", "model.safetensors"))
        path = os.path.join(self.folder.name, "bad.safetensors")
        with self.assertRaises(ValueError):
            stepscope_io.save_model(path, weights, {"attention_type": "linear"})  # no kind
        with self.assertRaises(ValueError):
            stepscope_io.save_model(path, weights, {"kind": "encoder"}, embedding=np.zeros((2, 24)),
                                    readout=np.zeros((2, 24)), vocabulary=["a"])
        with self.assertRaises(TypeError):
            stepscope_io.save_model(path, [1, 2], {"kind": "encoder"})
        self.assertEqual(os.listdir(self.folder.name), [])

    def test_load_refuses_a_damaged_file(self):
        path = os.path.join(self.folder.name, "short.safetensors")
        with open(path, "wb") as out:
            out.write(b"\xff" * 12)
        with self.assertRaises(ValueError):
            stepscope_io.load_safetensors(path)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
