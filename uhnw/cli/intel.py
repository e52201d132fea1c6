"""`uhnw resolve|enrich`, `uhnw eval resolve|names|precision`, `uhnw labels seed|feedback`: the intelligence layer from the command line.

Thin wiring over `uhnw.resolve` (nbs/31_resolve.ipynb), `uhnw.relevance` (nbs/32_relevance.ipynb) and the name
bench `uhnw.bench.names`. A malformed input line is reported on stderr with its line number and skipped; every
error the user can cause is one line on stderr, never a stack trace.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from uhnw.cli.common import current_settings, fail

eval_app = typer.Typer(help="Measure the intelligence layer on labelled data.", no_args_is_help=True)


def _load_clients(clients: Path):
    "The clients CSV as `uhnw.resolve.load_clients` reads it, or one line on stderr and exit 1."
    from uhnw.resolve import load_clients
    try:
        return load_clients(clients)
    except (OSError, ValueError) as e:
        fail(str(e).splitlines()[0])


def _gazetteer(clients: Path):
    from uhnw.resolve import Gazetteer
    return Gazetteer.from_clients(_load_clients(clients))


def _article(line: str) -> dict:
    "One JSON-lines article, or ValueError saying what is wrong with it."
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(obj, dict): raise ValueError("not a JSON object")
    if "id" not in obj or not isinstance(obj["id"], (str, int)): raise ValueError("no string or integer 'id'")
    for k in ("headline", "body"):
        if not isinstance(obj.get(k, ""), str): raise ValueError(f"'{k}' is not a string")
    if not obj.get("headline") and not obj.get("body"): raise ValueError("neither 'headline' nor 'body'")
    return obj


def _stdin_articles(skipped: list[int]):
    "The well-formed JSON-lines articles of stdin; a malformed line is reported on stderr and its number added to `skipped`."
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip(): continue
        try:
            a = _article(line)
        except ValueError as e:
            typer.echo(f"line {n}: skipped: {e}", err=True); skipped.append(n)
            continue
        yield a


def resolve(clients: Annotated[Path, typer.Option("--clients", help="clients CSV (client_id, full_name, aliases, organizations, ...)")],
            threshold: Annotated[float, typer.Option(help="minimum score (default: the resolution_threshold setting)")] = None):
    "Read articles as JSON lines {id, headline, body} on stdin; write {id, matches} JSON lines on stdout."
    threshold = current_settings().resolution_threshold if threshold is None else threshold
    g = _gazetteer(clients)
    done, skipped = 0, []
    for a in _stdin_articles(skipped):
        matches = g.resolve(a.get("headline") or "", a.get("body") or "", threshold)
        sys.stdout.write(json.dumps({"id": a["id"], "matches": [m.to_dict() for m in matches]}, ensure_ascii=False) + "\n")
        done += 1
    sys.stdout.flush()
    typer.echo(f"resolved {done} article(s), skipped {len(skipped)} malformed line(s)", err=True)


def _read_jsonl(path: Path, what: str) -> list[dict]:
    out = []
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip(): continue
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    fail(f"{path}: line {n}: {what} is not JSON ({e.msg})")
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    return out


def _num(m: dict, k: str) -> str:
    "A metric, or '-' where it is undefined (no prediction for precision, no gold for recall)."
    undefined = (k == "precision" and m["tp"] + m["fp"] == 0) or (k == "recall" and m["tp"] + m["fn"] == 0) or (
        k == "f1" and m["tp"] == 0)
    return "-" if undefined else f"{m[k]:.3f}"


def _row(name: str, m: dict, width: int = 16) -> str:
    n = m.get("articles", m.get("n", ""))
    return (f"{name:<{width}}{n:>9}{m['tp']:>6}{m['fp']:>6}{m['fn']:>6}"
            f"{_num(m, 'precision'):>11}{_num(m, 'recall'):>9}{_num(m, 'f1'):>8}")


@eval_app.command("resolve")
def eval_resolve(clients: Annotated[Path, typer.Option("--clients", help="clients CSV")],
                 articles: Annotated[Path, typer.Option("--articles", help="JSON lines {id, headline, body, category}")],
                 gold: Annotated[Path, typer.Option("--gold", help="JSON lines {id, client_ids}")],
                 threshold: Annotated[float, typer.Option(help="minimum score (default: uhnw.resolve.DEFAULT_THRESHOLD)")] = None):
    "Precision, recall and F1 of entity resolution overall and per category; the last line is one JSON object."
    from uhnw.resolve import DEFAULT_THRESHOLD, evaluate
    g = _gazetteer(clients)
    arts = _read_jsonl(articles, "article")
    truth = {j["id"]: j.get("client_ids", []) for j in _read_jsonl(gold, "gold record")}
    missing = [a.get("id") for a in arts if a.get("id") not in truth]
    if missing: fail(f"{len(missing)} article(s) have no gold record, e.g. {missing[:3]}")
    res = evaluate(g, arts, truth, threshold)
    t = DEFAULT_THRESHOLD if threshold is None else threshold
    typer.echo(f"entity resolution at threshold {t} ({len(g)} clients, {len(arts)} articles; pairs of article and client)")
    typer.echo(f"{'category':<16}{'articles':>9}{'tp':>6}{'fp':>6}{'fn':>6}{'precision':>11}{'recall':>9}{'f1':>8}")
    for k in sorted(res, key=lambda k: (k == "all", k)):
        typer.echo(_row(k, res[k]))
    typer.echo(json.dumps({"threshold": t, **res}))


@eval_app.command("names")
def eval_names(cases: Annotated[Path, typer.Option("--cases", help="name_bench cases.csv")],
               reference: Annotated[Path, typer.Option(help="logic_v2 scores (default: logicv2-frozen.csv beside the cases)")] = None):
    "Our pairwise name matcher on nomenklatura's name_bench beside logic_v2; the last line is one JSON object."
    import pandas as pd

    from uhnw.bench.names import bench_names
    reference = reference or cases.with_name("logicv2-frozen.csv")
    try:
        df = pd.read_csv(cases, dtype=str, keep_default_na=False)
        ref = pd.read_csv(reference, dtype=str, keep_default_na=False) if reference.exists() else None
    except (OSError, ValueError) as e:
        fail(f"{cases}: {str(e).splitlines()[0]}")
    need = {"case_group", "schema", "name1", "name2", "is_match"} - set(df.columns)
    if need: fail(f"{cases}: missing column(s) {', '.join(sorted(need))}")
    b = bench_names(df, ref)
    typer.echo("name matching on name_bench: ours (threshold by 5-fold CV, out-of-fold predictions) vs logic_v2 (frozen, at 0.70)")
    typer.echo(f"{'slice':<34}{'pairs':>9}{'tp':>6}{'fp':>6}{'fn':>6}{'precision':>11}{'recall':>9}{'f1':>8}  threshold")
    rows = [("Person", b["person"]), ("all", b["all"])] + [(k, v) for k, v in b["groups"].items()]
    for name, r in rows:
        for who in ("ours", "logic_v2"):
            if who in r:
                typer.echo(_row(f"{name[:24]} {who}", r[who], 34) + (f"  {r[who]['threshold']}" if "threshold" in r[who] else ""))
    pick = lambda r: {k: r["ours"][k] for k in ("precision", "recall", "f1", "threshold")}
    typer.echo(json.dumps({"person": pick(b["person"]), "all": pick(b["all"])}))


labels_app = typer.Typer(help="Training labels of the relevance model (silver.relevance_labels).", no_args_is_help=True)


def _set_names(text: str) -> tuple[str, ...] | None:
    "Training-set names from a comma-separated option; None (every set) when it names none."
    return tuple(s.strip() for s in text.split(",") if s.strip()) or None


@labels_app.command("seed")
def labels_seed(date: Annotated[str, typer.Option("--date", help="label partition date YYYY-MM-DD")],
                sets: Annotated[str, typer.Option(help="comma-separated training sets (uhnw.relevance.TRAINING_SETS); default: all")] = ""):
    "Resolve the repository's labelled training sets (jobs/seeds/relevance*, package data) as one silver.relevance_labels partition."
    from uhnw.lake import lake_for
    from uhnw.relevance import land_training_sets
    settings = current_settings()
    try:
        out = land_training_sets(lake_for(settings).ensure(), date, _set_names(sets))
    except ValueError as e:
        fail(str(e))
    per_set = ", ".join(f"{k} {v['landed']} of {v['labels']}" + (f" ({v['unresolved']} unresolved)" if v["unresolved"] else "")
                        for k, v in out["sets"].items())
    typer.echo(f"landed {out['landed']} labels in silver.relevance_labels date={date}: {per_set}")


@labels_app.command("feedback")
def labels_feedback(clients: Annotated[Path, typer.Option("--clients", help="the clients CSV the alert service resolves against")],
                    date: Annotated[str, typer.Option("--date", help="label partition date YYYY-MM-DD")],
                    since: Annotated[str, typer.Option(help="only votes at or after this ISO time; default: every vote")] = ""):
    """RM verdicts on alerts (alert_feedback in PostgreSQL): useful / not useful as training labels in silver.relevance_labels
    beside the day's other labels; wrong person as entity-resolution labels in silver.resolution_labels."""
    from datetime import datetime

    from uhnw.lake import check_date, lake_for
    from uhnw.ops.db import connect
    from uhnw.relevance import land_feedback
    from uhnw.workstation import land_resolution_labels
    try:
        check_date(date)
        start = datetime.fromisoformat(since) if since else None
    except ValueError as e:
        fail(str(e))
    if start is not None and start.tzinfo is None: fail(f"--since {since!r} needs a time zone, e.g. {since}+00:00")
    gazetteer, settings = _gazetteer(clients), current_settings()
    lake = lake_for(settings).ensure()
    with connect(settings) as conn, conn.cursor() as cur:
        out = land_feedback(lake, cur, gazetteer, date, since=start)
        wrong = land_resolution_labels(lake, conn, date, since=start)
    typer.echo(f"{out['alerts']} alerts with votes: {out['ties']} tied (left out), {out['landed']} landed as rm_feedback labels in "
               f"silver.relevance_labels date={date} beside {out['kept_other_sources']} labels of other sources, "
               f"{out['unresolved']} quarantined in silver.relevance_labels_rejected (client not found in the text); "
               f"{wrong['labels']} 'wrong person' verdicts landed as entity-resolution labels in silver.resolution_labels")


_BOOK = "size of the generated client book (uhnw.synth.client_book)"
_PAGES = "articles about nobody: a JSON-lines file or a folder of .html pages"
_MODEL = ("relevance model: 'seed' (trained here on the seed labels), 'trained' (trained here on every training set), "
          "a lake version, or 'latest' (the promoted one)")
_LABELLED = "also resolve a labelled set (clients.csv, articles.jsonl, gold.jsonl) against the same book"


@eval_app.command("precision")
def eval_precision(clients: Annotated[int, typer.Option("--clients", help=_BOOK)] = 100_000,
                   pages: Annotated[Path, typer.Option("--pages", help=_PAGES)] = Path("tests/data/web_articles/articles.jsonl"),
                   model: Annotated[str, typer.Option("--model", help=_MODEL)] = "seed",
                   seed: Annotated[int, typer.Option(help="seed of the generated book")] = 0,
                   labelled: Annotated[Path, typer.Option("--labelled", help=_LABELLED)] = None):
    "False matches and false alerts per 1,000 real articles about nobody, per split and language; the last line is one JSON object."
    from uhnw.bench.precision import eval_precision as run
    from uhnw.relevance import PartitionNotFound
    if clients < 1: fail("--clients must be at least 1")
    if not pages.exists(): fail(f"{pages}: no such file or folder")
    if labelled and not all((labelled / f).is_file() for f in ("clients.csv", "articles.jsonl", "gold.jsonl")):
        fail(f"{labelled}: needs clients.csv, articles.jsonl and gold.jsonl")
    try:
        settings = current_settings() if model not in ("seed", "trained") else None
        run(clients, pages, model, seed, labelled, settings=settings, out=typer.echo)
    except ModuleNotFoundError as e:
        fail(f"{e.name} is not installed: pip install 'uhnw[eval]'")
    except (PartitionNotFound, ValueError) as e:
        fail(str(e).splitlines()[0])


@eval_app.command("relevance")
def eval_relevance(pairs: Annotated[Path, typer.Option("--pairs", help="JSON lines {id, client_id, headline, body, label}")],
                   clients: Annotated[Path, typer.Option("--clients", help="the clients CSV the pairs name")],
                   model: Annotated[str, typer.Option("--model", help=_MODEL)] = "seed",
                   train: Annotated[str, typer.Option("--train", help="instead of --model: train in memory on these comma-separated "
                                                                     "training sets (uhnw.relevance.TRAINING_SETS), or 'all'")] = "",
                   features: Annotated[str, typer.Option(help="with --train: 'full' (today's) or 'lexicon' (before issue 11)")] = "full",
                   threshold: Annotated[float, typer.Option(help="the alert gate")] = 0.8):
    "Precision, recall and F1 at the gate end to end; per event family, style and hard-negative kind; reliability; then one JSON line."
    from uhnw.bench.precision import relevance_model
    from uhnw.bench.relevance_eval import eval_relevance as run
    from uhnw.bench.relevance_eval import train_on
    from uhnw.relevance import PartitionNotFound
    for f in (pairs, clients):
        if not f.is_file(): fail(f"{f}: no such file")
    try:
        if train: rel = train_on(None if train == "all" else _set_names(train), features)
        else: rel = relevance_model(model, current_settings() if model not in ("seed", "trained") else None)
        run(pairs, clients, rel, threshold, out=typer.echo)
    except (PartitionNotFound, ValueError, OSError) as e:
        fail(str(e).splitlines()[0])


def enrich(clients: Annotated[Path, typer.Option("--clients", help="clients CSV (client_id, full_name, aliases, organizations, ...)")],
           model: Annotated[str, typer.Option("--model", help=_MODEL)] = "latest",
           threshold: Annotated[float, typer.Option(help="alert when relevance exceeds this (default: relevance_threshold)")] = None):
    """Run the whole enrichment (resolution, relevance, summary) on JSON-lines articles {id, headline, body, source?, url?,
    published_at?} from stdin; print each alert as a JSON line and, last, a JSON summary."""
    import time

    from uhnw.bench.precision import news_event, relevance_model
    from uhnw.enrich import client_directory
    from uhnw.enrich import enrich as enrich_article
    from uhnw.relevance import PartitionNotFound
    from uhnw.resolve import Gazetteer
    from uhnw.summarize import summarizer_for
    settings = current_settings()
    threshold = settings.relevance_threshold if threshold is None else threshold
    book = _load_clients(clients)
    g, directory = Gazetteer.from_clients(book), client_directory(book)
    try:
        rel = relevance_model(model, settings)
    except (PartitionNotFound, ValueError) as e:
        fail(f"{str(e).splitlines()[0]} (or pass --model seed)")
    summarizer = summarizer_for(settings)
    done = alerts = matched = 0
    skipped: list[int] = []
    t0 = time.perf_counter()
    for a in _stdin_articles(skipped):
        matches = g.resolve(a.get("headline") or "", a.get("body") or "")
        matched += len(matches)
        for rec in enrich_article(news_event(a), g, rel, summarizer, threshold, directory, matches=matches):
            rec = {**rec, "processed_at": rec["processed_at"].isoformat()}
            sys.stdout.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
            alerts += 1
        done += 1
    secs = time.perf_counter() - t0
    sys.stdout.write(json.dumps({"summary": True, "articles": done, "skipped": len(skipped), "matches": matched, "alerts": alerts,
                                 "model_version": rel.version, "threshold": threshold, "clients": len(g),
                                 "articles_per_s": round(done / secs, 1) if secs and done else None}) + "\n")
    sys.stdout.flush()
