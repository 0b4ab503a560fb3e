"""Trains Stepscope's demo models in plain PyTorch (CPU) and saves them with stepscope_io.

    # the recall ladder: one recipe and one budget, five attention kinds
    for kind in full linear gated-linear delta gated-delta; do
        nice -n 19 /usr/bin/python3 resources/python/train_demos.py recall --attention $kind \
            --steps 4000 --minutes 50 --out recall_$kind.safetensors --checkpoint recall_$kind.ckpt
    done
    # character models of the King James Bible (apt-get install bible-kjv)
    # (text_linear: the defaults, d_model 64, 58 minutes; text_delta and text_softmax: d_model 128)
    for kind in delta full; do
        nice -n 19 /usr/bin/python3 resources/python/train_demos.py text --attention $kind --heads 4 --feed-forward 512 \
            --seed 3 --minutes 76 --out text_${kind/full/softmax}.safetensors --checkpoint text_$kind.ckpt
    done
    # going on from a saved model of the same size: its weights, a fresh optimizer, warm-up and cosine schedule
    /usr/bin/python3 resources/python/train_demos.py text --attention delta --heads 4 --feed-forward 512 \
        --resume resources/models/text_delta.safetensors --lr 1e-3 --warmup 100 --seed 2 --minutes 90 --out more.safetensors
    # then on windows of 512 characters (4 a step: the same characters a step as 16 of 128), 85 minutes each
    for kind in delta full; do
        nice -n 19 /usr/bin/python3 resources/python/train_demos.py text --attention $kind --heads 4 --feed-forward 512 \
            --resume resources/models/text_${kind/full/softmax}.safetensors --context 512 --batch 4 --lr 1e-3 \
            --warmup 100 --seed 4 --minutes 85 --out text_${kind/full/softmax}.safetensors
    done

Debian's torch multiplies matrices with the BLAS that libblas.so.3 points to, by default the reference
(netlib) one: here a step took 7 to 10 times longer than with OpenBLAS, which needs no installation
(`apt-get download libopenblas0-pthread`, `dpkg -x` it somewhere, then run with
OPENBLAS_NUM_THREADS=1 LD_LIBRARY_PATH=<there>/usr/lib/x86_64-linux-gnu/openblas-pthread).

fast-transformers cannot be installed here, so this file rebuilds its TransformerEncoder (post-norm
layers, final LayerNorm) under the reference's state_dict names, with each attention kind in its
parallel (masked quadratic) form; Stepscope's golden tests tie those names and semantics to the
reference and to flash-linear-attention's naive delta rules. Each saved model carries its evaluation
set and the metric measured on it here (`trained_value`), so `stepscope eval` proves the C++ engine
computes what PyTorch computed. A run stops at --steps or --minutes, whichever comes first; its
cosine schedule follows whichever is further along, and --checkpoint resumes it (a budget already
spent just evaluates and saves).
"""

import argparse
import warnings
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

warnings.filterwarnings("ignore", message="torch.triangular_solve is deprecated")  # 1.13: the fast one on CPU

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stepscope_io import load_safetensors, save_model  # noqa: E402

EPS = 1e-6  # the reference's attention eps
KINDS = ("full", "linear", "gated-linear", "delta", "gated-delta")
BETA_BIAS = 0.0  # beta = sigmoid(bias) at the start; set by --beta-bias
GATE_BIAS = 5.0  # alpha = sigmoid(5) = 0.993 at the start: forget slowly until taught otherwise


class AttentionLayer(nn.Module):
    """fast_transformers.attention.AttentionLayer with a causal inner attention, in its parallel form.

    full: softmax; linear: elu+1 linear attention; gated-linear, delta, gated-delta: Stepscope's
    delta-rule family (tests/golden/README.md), each as the masked quadratic form whose row t is what
    the recurrent step computes at t.
    """

    def __init__(self, d_model, heads, kind, feature_map="elu"):
        super().__init__()
        self.heads, self.kind = heads, kind
        self.phi = {"elu": lambda y: F.elu(y) + 1, "silu": F.silu}[feature_map]
        self.query_projection = nn.Linear(d_model, d_model)
        self.key_projection = nn.Linear(d_model, d_model)
        self.value_projection = nn.Linear(d_model, d_model)
        self.out_projection = nn.Linear(d_model, d_model)
        if kind in ("delta", "gated-delta"):
            self.beta_projection = nn.Linear(d_model, heads)
            nn.init.constant_(self.beta_projection.bias, BETA_BIAS)
        if kind in ("gated-delta", "gated-linear"):
            self.gate_projection = nn.Linear(d_model, heads)
            nn.init.constant_(self.gate_projection.bias, GATE_BIAS)

    def forward(self, x):  # x (B, T, E)
        batch, steps, width = x.shape
        split = lambda y: y.view(batch, steps, self.heads, -1).transpose(1, 2)  # (B, H, T, D)
        per_head = lambda y: y.transpose(1, 2)  # (B, T, H) -> (B, H, T)
        q, k, v = split(self.query_projection(x)), split(self.key_projection(x)), split(self.value_projection(x))
        causal = torch.ones(steps, steps, dtype=torch.bool, device=x.device).tril()
        decay = None  # G[t, j] = alpha_{j+1} ... alpha_t on and below the diagonal, 0 above
        if self.kind in ("gated-delta", "gated-linear"):
            log_gamma = F.logsigmoid(per_head(self.gate_projection(x))).cumsum(-1)  # (B, H, T)
            difference = log_gamma[..., :, None] - log_gamma[..., None, :]
            decay = difference.masked_fill(~causal, float("-inf")).exp()
        if self.kind == "full":
            scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
            weights = scores.masked_fill(~causal, float("-inf")).softmax(-1)
        elif self.kind in ("linear", "gated-linear"):
            # phi(q_t).S_t / (phi(q_t).Z_t + eps), S and Z (decayed) sums of phi(k) v^T and phi(k).
            similarity = (self.phi(q) @ self.phi(k).transpose(-1, -2)).masked_fill(~causal, 0.0)
            if decay is not None:
                similarity = similarity * decay
            weights = similarity / (similarity.sum(-1, keepdim=True) + EPS)
        else:
            # Delta rule: S_t = G S_{t-1} + beta_t k_t (v_t - (G S_{t-1})^T k_t)^T, o_t = S_t^T q_t / sqrt(D)
            # with unit keys and queries. S_t = sum_j G[t,j] k_j u_j^T, where the written values u solve
            # (I + diag(beta) strictly_lower(K K^T * G)) u = diag(beta) V.
            unit = lambda y: y / y.norm(dim=-1, keepdim=True).clamp_min(1e-30)
            q, k = unit(self.phi(q)), unit(self.phi(k))
            beta = torch.sigmoid(per_head(self.beta_projection(x)))  # (B, H, T)
            keys = (k @ k.transpose(-1, -2)).tril(-1)  # strictly lower
            if decay is not None:
                keys = keys * decay
            system = torch.eye(steps, device=x.device) + beta[..., None] * keys
            v, _ = torch.triangular_solve(beta[..., None] * v, system, upper=False, unitriangular=True)
            weights = (q @ k.transpose(-1, -2)).masked_fill(~causal, 0.0) / math.sqrt(q.shape[-1])
            if decay is not None:
                weights = weights * decay
        out = (weights @ v).transpose(1, 2).reshape(batch, steps, width)
        return self.out_projection(out)


class EncoderLayer(nn.Module):
    """fast_transformers.transformers.TransformerEncoderLayer (post-norm, dropout 0)."""

    def __init__(self, d_model, heads, feed_forward, kind, activation, feature_map="elu"):
        super().__init__()
        self.attention = AttentionLayer(d_model, heads, kind, feature_map)
        self.linear1 = nn.Linear(d_model, feed_forward)
        self.linear2 = nn.Linear(feed_forward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.activation = F.relu if activation == "relu" else F.gelu

    def forward(self, x):
        x = self.norm1(x + self.attention(x))
        return self.norm2(x + self.linear2(self.activation(self.linear1(x))))


class Encoder(nn.Module):
    """fast_transformers.transformers.TransformerEncoder: layers then a final LayerNorm `norm`."""

    def __init__(self, config):
        super().__init__()
        d_model = config["n_heads"] * config["value_dimensions"]
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, config["n_heads"], config["feed_forward_dimensions"],
                         config["attention_type"], config["activation"], config.get("feature_map", "elu"))
            for _ in range(config["n_layers"]))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class TokenModel(nn.Module):
    """Token head around the encoder: summed token embeddings + learned positions -> readout."""

    def __init__(self, config, vocabulary_size, positions, shift=False):
        super().__init__()
        d_model = config["n_heads"] * config["value_dimensions"]
        self.embedding = nn.Embedding(vocabulary_size, d_model)
        self.positions = nn.Embedding(positions, d_model) if positions else None
        # Token shift (as RWKV): each step also adds the previous step's tokens through their own
        # embedding, nothing at the first step, so a model without positions still sees its bigram.
        self.shift = nn.Embedding(vocabulary_size, d_model) if shift else None
        self.transformer = Encoder(config)
        self.readout = nn.Linear(d_model, vocabulary_size)

    def hidden(self, tokens):  # tokens (B, T, S): the S tokens of a step add up -> (B, T, E)
        x = self.embedding(tokens).sum(2)
        if self.shift is not None:
            x = x + F.pad(self.shift(tokens[:, :-1]).sum(2), (0, 0, 1, 0))
        if self.positions is not None:
            x = x + self.positions.weight[:tokens.shape[1]]
        return self.transformer(x)

    def forward(self, tokens):
        return self.readout(self.hidden(tokens))


def encoder_config(attention, layers, heads, head_width, feed_forward, feature_map="elu"):
    config = {"kind": "encoder", "attention_type": attention, "n_layers": layers, "n_heads": heads,
              "query_dimensions": head_width, "value_dimensions": head_width,
              "feed_forward_dimensions": feed_forward, "activation": "relu",
              "final_normalization": True, "dropout": 0.0, "attention_dropout": 0.0}
    if feature_map != "elu":
        config["feature_map"] = feature_map
    return config


# ---------------------------------------------------------------- associative recall (pair layout)

KEYS, VALUES = 128, 128
NULL = KEYS + VALUES
QUERIES = 16
TRAIN_PAIRS = (4, 8, 16, 32, 64)
EVAL_PAIRS = (4, 8, 16, 32, 64)


def recall_vocabulary():
    return ["k%d" % i for i in range(KEYS)] + ["v%d" % i for i in range(VALUES)] + ["?"]


def recall_batch(batch, pairs, generator):
    """Pairs (key, value) at positions 0..K-1, then QUERIES positions (key, NULL) asking for a value.

    Returns tokens (B, K+Q, 2) and targets (B, K+Q), -1 where nothing is scored.
    Keys are distinct within an instance; queries are drawn with replacement.
    """
    keys = torch.rand(batch, KEYS, generator=generator).argsort(1)[:, :pairs]
    values = KEYS + torch.randint(0, VALUES, (batch, pairs), generator=generator)
    asked = torch.randint(0, pairs, (batch, QUERIES), generator=generator)
    query_keys = keys.gather(1, asked)
    answers = values.gather(1, asked)
    first = torch.cat([keys, query_keys], 1)
    second = torch.cat([values, torch.full_like(query_keys, NULL)], 1)
    targets = torch.cat([torch.full_like(keys, -1), answers], 1)
    return torch.stack([first, second], 2), targets


def recall_task():
    return {"name": "recall", "layout": "pairs",
            "description": "associative recall: K key+value pairs, then queries key+? whose answer is the key's value",
            "keys": KEYS, "values": VALUES, "null": NULL, "queries": QUERIES,
            "train_pairs": list(TRAIN_PAIRS), "pairs": list(EVAL_PAIRS),
            "scored": "query positions: the queried key's value", "metric": "accuracy"}


# ---------------------------------------------------------------- character-level text

HELD_OUT_FROM = "Jude1:1"  # Jude and Revelation, the last two books, are held out


def bible_texts():
    """The King James Bible from Debian's bible-kjv, one verse a line without its reference."""
    import re
    import subprocess
    lines = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True,
                           text=True).stdout.splitlines()
    split = next(i for i, line in enumerate(lines) if line.startswith(HELD_OUT_FROM + " "))
    verse = lambda line: re.sub(r"^\S*?\d+:\d+ ", "", line)
    return "\n".join(map(verse, lines[:split])) + "\n", "\n".join(map(verse, lines[split:])) + "\n"


def text_task(context, vocabulary, windows):
    return {"name": "text", "layout": "characters",
            "description": "character-level language model on the King James Bible (bible-kjv; Jude and "
                           "Revelation held out)",
            "context": context, "scored": "every position: the next character",
            "metric": "bits_per_character", "source": "bible -f Gen1:1-Rev22:21", "held_out": "Jude, Revelation",
            "windows": windows, "vocabulary_size": len(vocabulary)}


# ---------------------------------------------------------------- training and evaluation

def evaluate(model, groups, metric):
    """Per group and overall: accuracy or bits per character over the scored positions."""
    model.eval()
    per_group, total_score, total_count = {}, 0.0, 0
    with torch.no_grad():
        for name, (tokens, targets) in groups.items():
            logits = model(tokens).double()
            scored = targets >= 0
            if metric == "accuracy":
                score = (logits.argmax(-1) == targets)[scored].sum().item()
            else:
                score = F.cross_entropy(logits[scored], targets[scored], reduction="sum").item() / math.log(2)
            count = int(scored.sum().item())
            per_group[name] = score / count
            total_score += score
            total_count += count
    model.train()
    return total_score / total_count, per_group


def train(model, sample, budget, max_steps, checkpoint, log, lr=2e-3, warmup=200):
    """AdamW with linear warm-up then a cosine decay over `max_steps` or a wall-clock budget (seconds),
    whichever runs out first: the decay follows the larger of the two fractions, so a run on a busy
    machine still completes its schedule on time. Returns (seconds, steps).
    """
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.1)
    step, elapsed = 0, 0.0
    if checkpoint and os.path.exists(checkpoint):
        saved = torch.load(checkpoint)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        step, elapsed = saved["step"], saved["elapsed"]
        log("resumed at step %d, %.0f s" % (step, elapsed))
    began = time.time() - elapsed
    progress = lambda: max(elapsed / budget, step / max_steps)
    while progress() < 1:
        factor = min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * progress()))
        for group in optimizer.param_groups:
            group["lr"] = lr * factor
        tokens, targets = sample(step)
        scored = targets >= 0
        logits = model.readout(model.hidden(tokens)[scored])
        loss = F.cross_entropy(logits, targets[scored])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 50 == 0:
            log("step %d loss %.4f lr %.2e %.0f s" % (step, loss.item(), lr * factor, elapsed))
        step += 1
        elapsed = time.time() - began
        if checkpoint and step % 100 == 0:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "step": step, "elapsed": elapsed}, checkpoint + ".tmp")
            os.replace(checkpoint + ".tmp", checkpoint)
    return elapsed, step


def warm_start(model, path, config):
    """Loads a saved model's weights (the same config) into `model`: training goes on from them."""
    tensors, metadata = load_safetensors(path)
    saved = json.loads(metadata["config"])
    if saved != json.loads(json.dumps(config, sort_keys=True)):
        raise SystemExit("%s has config %s, not %s" % (path, saved, config))
    state = {name: torch.from_numpy(tensors[name.replace("transformer.", "", 1) if name.startswith("transformer.")
                                            else name].copy())
             for name in model.state_dict()}
    model.load_state_dict(state)


def save(path, model, config, vocabulary, task, groups, trained_value, per_group, seconds, steps):
    transformer = {name[len("transformer."):]: value for name, value in model.state_dict().items()
                   if name.startswith("transformer.")}
    tensors = {}
    for index, (name, (tokens, targets)) in enumerate(groups.items()):
        tensors["evaluation.%d.tokens" % index] = tokens
        tensors["evaluation.%d.targets" % index] = targets
    task = dict(task, groups=list(groups))
    metadata = {"trained_value": repr(trained_value), "trained_values": json.dumps(per_group),
                "training_seconds": "%.0f" % seconds, "training_steps": str(steps)}
    positions = model.positions.weight if model.positions is not None else None
    shift = model.shift.weight if model.shift is not None else None
    save_model(path, transformer, config, embedding=model.embedding.weight, positions=positions, shift=shift,
               readout=model.readout, vocabulary=vocabulary, task=task, tensors=tensors, metadata=metadata)


def main():
    global BETA_BIAS, GATE_BIAS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["recall", "text"])
    parser.add_argument("--attention", choices=KINDS, default="linear")
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget (wall clock)")
    parser.add_argument("--steps", type=int, default=10 ** 9, help="training budget (optimizer steps)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--key-map", choices=["elu", "silu"], default=None,
                        help="the delta rules' feature map (default silu; linear kinds keep elu)")
    parser.add_argument("--beta-bias", type=float, default=BETA_BIAS)
    parser.add_argument("--gate-bias", type=float, default=GATE_BIAS)
    parser.add_argument("--eval-examples", type=int, default=None, help="per group")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--resume", default=None, metavar="FILE",
                        help="warm-start from a saved model (its weights; a fresh optimizer and schedule)")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up steps")
    parser.add_argument("--batch", type=int, default=None, help="sequences a step (recall 64, text 16)")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--head-width", type=int, default=32)
    parser.add_argument("--feed-forward", type=int, default=None, help="recall 128, text 256")
    parser.add_argument("--context", type=int, default=128, help="text: characters a training window")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    BETA_BIAS, GATE_BIAS = args.beta_bias, args.gate_bias
    # elu+1 keys are positive, so two random unit keys start at a cosine near 0.8 and every delta write
    # overwrites most of the memory; silu keys start nearly orthogonal (DeltaNet's choice). Linear
    # attention's normaliser needs positive features, so the linear kinds keep elu.
    key_map = args.key_map or ("silu" if args.attention in ("delta", "gated-delta") else "elu")
    torch.set_num_threads(args.threads)  # 2.6x faster than two threads at these sizes
    torch.manual_seed(args.seed)
    log_file = open(args.out + ".log", "a")

    def log(message):
        line = "%s %s" % (time.strftime("%H:%M:%S"), message)
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    if args.task == "recall":
        # Recall matches keys by content: the pair layout needs no positions, so none are learned.
        # d_model 64, 2 heads of 32: a delta-rule head holds up to 32 orthogonal keys.
        config = encoder_config(args.attention, layers=args.layers, heads=args.heads, head_width=args.head_width,
                                feed_forward=args.feed_forward or 128, feature_map=key_map)
        vocabulary = recall_vocabulary()
        model = TokenModel(config, len(vocabulary), positions=0)
        batch = lambda step: recall_batch(args.batch or 64, TRAIN_PAIRS[step % len(TRAIN_PAIRS)],
                                          torch.Generator().manual_seed(args.seed * 1000003 + step))
        evaluation = torch.Generator().manual_seed(12345)  # the same set for every twin
        examples = args.eval_examples or 100
        groups = {"K=%d" % k: recall_batch(examples, k, evaluation) for k in EVAL_PAIRS}
        task, metric = recall_task(), "accuracy"
    else:
        # No positions: the recurrent twins run to any length with a constant state, and the softmax
        # twin orders its cache by the causal mask alone; the token shift gives each step its bigram.
        context, long_window = args.context, 2048
        config = encoder_config(args.attention, layers=args.layers, heads=args.heads, head_width=args.head_width,
                                feed_forward=args.feed_forward or 256, feature_map=key_map)
        train_text, held_out = bible_texts()
        vocabulary = sorted(set(train_text) | set(held_out))
        index = {c: i for i, c in enumerate(vocabulary)}
        train_ids = torch.tensor([index[c] for c in train_text])
        held_ids = torch.tensor([index[c] for c in held_out])
        model = TokenModel(config, len(vocabulary), positions=0, shift=True)

        def batch(step):
            generator = torch.Generator().manual_seed(args.seed * 1000003 + step)
            starts = torch.randint(0, len(train_ids) - context - 1, (args.batch or 16,), generator=generator)
            windows = torch.stack([train_ids[s:s + context + 1] for s in starts.tolist()])
            return windows[:, :-1, None], windows[:, 1:]

        def cut(width, count):  # `count` consecutive held-out windows of `width` characters
            inputs = held_ids[:count * width].view(count, width)
            targets = held_ids[1:count * width + 1].view(count, width)
            return inputs[:, :, None], targets

        count = args.eval_examples or 16  # 16 x 2048 characters: the first 32,768 held out
        groups = {"context": cut(context, count * long_window // context), "2048": cut(long_window, count)}
        task, metric = text_task(context, vocabulary, [context, long_window]), "bits_per_character"
        log("text: %d training characters, %d held out, %d distinct" % (len(train_ids), len(held_ids), len(vocabulary)))

    log("config %s, %d parameters" % (json.dumps(config), sum(p.numel() for p in model.parameters())))
    if args.resume:
        warm_start(model, args.resume, config)
        log("warm-started from %s" % args.resume)
    seconds, steps = train(model, batch, args.minutes * 60, args.steps, args.checkpoint, log, lr=args.lr,
                           warmup=args.warmup)
    value, per_group = evaluate(model, groups, metric)
    log("trained %d steps in %.0f s: %s %.4f %s" % (steps, seconds, metric, value, json.dumps(per_group)))
    save(args.out, model, config, vocabulary, task, groups, value, per_group, seconds, steps)
    log("saved %s (%d bytes)" % (args.out, os.path.getsize(args.out)))


if __name__ == "__main__":
    main()
