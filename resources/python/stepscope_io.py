"""Save a trained fast-transformers model for Stepscope, and open Stepscope's files in Python.

One file, standard library and numpy only (torch tensors and modules are accepted when torch is
installed, never required), so it can be copied next to your training code:

    from stepscope_io import save_model
    config = {"kind": "encoder", "attention_type": "linear", "n_layers": 4, "n_heads": 4,
              "query_dimensions": 32, "value_dimensions": 32, "feed_forward_dimensions": 512}
    save_model("trained.safetensors", transformer, config)

`transformer` is any module a fast-transformers builder made (recurrent or batch: they share
tensor names), or a mapping of those names to tensors or arrays. The delta-rule kinds ("delta",
"gated-delta", "gated-linear") add per layer `attention.beta_projection` and/or
`attention.gate_projection` (Linear(d_model, n_heads)) beside the four projections; name them so in
your module and they are saved with the rest. The file is safetensors: the
weights under the reference's names, the builder config as JSON in `__metadata__.config`.
"""

import json
import os
import struct
import tempfile

import numpy as np

__all__ = ["save_model", "load_safetensors", "write_safetensors"]

_DTYPES = {"F32": np.dtype("<f4"), "I64": np.dtype("<i8")}
_HEAD_NAMES = ("embedding.weight", "positions.weight", "shift.weight", "readout.weight", "readout.bias")


def _as_array(value):
    """A numpy array from an array, a torch tensor or a nested list (torch itself not needed)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return np.ascontiguousarray(array, dtype="<f4")
    if array.dtype.kind in "iub":
        return np.ascontiguousarray(array, dtype="<i8")
    raise TypeError("cannot store an array of dtype %s" % array.dtype)


def _named_tensors(source):
    """Name -> array from a module (its state_dict) or a mapping of names to tensors/arrays."""
    if hasattr(source, "state_dict"):
        source = source.state_dict()
    if not hasattr(source, "items"):
        raise TypeError("expected a module with state_dict() or a mapping of names to arrays")
    return {str(name): _as_array(value) for name, value in source.items()}


def _linear_weight(name, value):
    """A readout given as a module (torch.nn.Linear) yields its weight and bias."""
    if hasattr(value, "state_dict"):
        state = value.state_dict()
        return {name + "." + key: _as_array(tensor) for key, tensor in state.items()}
    return {name + ".weight": _as_array(value)}


def write_safetensors(path, tensors, metadata=None):
    """Writes name -> array (float32 or int64) and string metadata, atomically (temp file + rename)."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        array = _as_array(tensors[name])
        dtype = "F32" if array.dtype == _DTYPES["F32"] else "I64"
        data = array.tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(key): str(value) for key, value in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # keeps the data 8-byte aligned, as the safetensors library does
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".stepscope_io.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(struct.pack("<Q", len(text)))
            out.write(text)
            for chunk in chunks:
                out.write(chunk)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 would hide the model from other users
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def save_model(path, transformer, config, *, embedding=None, positions=None, readout=None,
               vocabulary=None, task=None, tensors=None, metadata=None, shift=None):
    """Writes a model Stepscope opens.

    transformer: a fast-transformers encoder/decoder module, or a mapping of its state_dict names
        to tensors/arrays.
    config: the builder parameters as a dict, with `kind` ("encoder" or "decoder"), e.g.
        {"kind": "encoder", "attention_type": "linear", "n_layers": 2, ...}.
    embedding (V, E), positions (P, E), readout (V, E) or an nn.Linear: an optional token head.
    shift (V, E): an optional token shift, the previous step's tokens embedded and added (none at step 0).
    vocabulary: the V token strings; task: a dict describing the task (see the README).
    tensors: further arrays to store as they are (an evaluation set, for example);
    metadata: further string metadata.
    """
    if not isinstance(config, dict) or config.get("kind") not in ("encoder", "decoder"):
        raise ValueError("config must be a dict with kind 'encoder' or 'decoder'")
    stored = _named_tensors(transformer)
    clash = [name for name in stored if name in _HEAD_NAMES]
    if clash:
        raise ValueError("the transformer already holds %s" % clash[0])
    if embedding is not None:
        stored["embedding.weight"] = _as_array(getattr(embedding, "weight", embedding))
    if positions is not None:
        stored["positions.weight"] = _as_array(getattr(positions, "weight", positions))
    if shift is not None:
        stored["shift.weight"] = _as_array(getattr(shift, "weight", shift))
    if readout is not None:
        stored.update(_linear_weight("readout", readout))
    if (embedding is None) != (readout is None):
        raise ValueError("a token head needs both embedding and readout")
    if vocabulary is not None:
        vocabulary = [str(token) for token in vocabulary]
        rows = stored["embedding.weight"].shape[0] if embedding is not None else None
        if rows != len(vocabulary):
            raise ValueError("vocabulary has %d tokens, the embedding %s rows" % (len(vocabulary), rows))
    for name, value in (tensors or {}).items():
        if name in stored:
            raise ValueError("tensor %s is given twice" % name)
        stored[name] = _as_array(value)
    info = {"config": json.dumps(config, sort_keys=True)}
    if vocabulary is not None:
        info["vocabulary"] = json.dumps(vocabulary, ensure_ascii=False)
    if task is not None:
        info["task"] = json.dumps(task, sort_keys=True)
    info.update(metadata or {})
    write_safetensors(path, stored, info)


def load_safetensors(path):
    """(name -> numpy array, metadata dict) of a safetensors file: models, snapshots, replay outputs."""
    with open(path, "rb") as source:
        data = source.read()
    if len(data) < 8:
        raise ValueError("%s: shorter than the 8-byte header length" % path)
    (length,) = struct.unpack("<Q", data[:8])
    if 8 + length > len(data):
        raise ValueError("%s: header length %d runs past the end of the file" % (path, length))
    header = json.loads(data[8:8 + length].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    body = data[8 + length:]
    arrays = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = entry["dtype"]
        if dtype == "BF16":
            raw = np.frombuffer(body[begin:end], dtype="<u2").astype(np.uint32) << 16
            array = raw.view(np.float32)
        elif dtype in _DTYPES:
            array = np.frombuffer(body[begin:end], dtype=_DTYPES[dtype])
        else:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, dtype))
        arrays[name] = array.reshape(entry["shape"]).copy()
    return arrays, metadata
