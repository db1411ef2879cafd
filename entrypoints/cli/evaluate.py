"""Offline evaluation (`recsys eval`) and loading public datasets into the database."""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from application.evaluation.dataset import Dataset, DatasetError
from application.evaluation.metrics import DRAWS
from application.hybrid import HybridRecommender, parse_weights
from application.tuning import HYBRID_COMPONENTS
from application.use_cases.evaluate_strategies import PROTOCOLS, EvaluationQuery, EvaluationReport
from domain.errors import DomainError
from entrypoints.cli.base import cli, container_of, replaced_whole, schema_checked
from entrypoints.cli.data import ingest, said_ignored
from entrypoints.cli.eval_files import files_dataset
from entrypoints.config import ConfigError, read_environment, two_tower_settings
from entrypoints.files import UnreadableFile
from entrypoints.progress import Progress

if TYPE_CHECKING:
    from entrypoints.container import Container

#: sub-folder of RS_DATA_DIR (e.g. ../shared/data) for each dataset
DEFAULT_FOLDERS = {"ml-100k": "ml-100k", "cnpc": "cnpc-canvas-network"}
#: "stored": what this service's database holds (RS_DATABASE_URL), read, never written
DATASETS = ("ml-100k", "cnpc", "csv", "stored")


def load_dataset(
    container: Container, name: str, data_dir: Path | None, skip_invalid: bool = False
) -> Dataset:
    if name == "stored":
        if data_dir is not None:
            raise click.UsageError("--dataset stored reads the database; give no --data-dir")
        return stored_dataset(container)
    if data_dir is None:
        root = read_environment().get("RS_DATA_DIR")  # as every setting, also from .env
        if not root or name == "csv":
            stored = (  # import-dataset takes no "stored": it loads a dataset into the database
                ", or --dataset stored to evaluate on the events this service's database holds"
                if click.get_current_context().info_name in ("eval", "eval-two-tower")
                else ""
            )
            where = (
                " (the folder of courses.csv|jsonl with interactions.csv|jsonl, or train and test)"
                if name == "csv"
                else " (or set RS_DATA_DIR to the folder holding the datasets)"
            )
            raise click.UsageError(f"give --data-dir{where}{stored}")
        data_dir = Path(root) / DEFAULT_FOLDERS[name]
    if not data_dir.exists():
        raise click.ClickException(f"{data_dir} does not exist")
    if not data_dir.is_dir():
        raise click.ClickException(f"{data_dir} is not a directory")
    try:
        if name == "csv":
            skew = container.config.max_clock_skew_seconds()
            return files_dataset(data_dir, skip_invalid, 300.0 if skew is None else skew)
        return container.dataset_sources()[name](data_dir).load()  # type: ignore[no-any-return]
    except (DatasetError, UnreadableFile) as error:
        raise click.ClickException(str(error)) from None


def stored_dataset(container: Container) -> Dataset:
    """The catalog and every event of the service's own database (what the trainer fits on): a
    platform checks the service on its own history, without exporting it first."""
    schema_checked(container)
    with container.uow() as uow:
        courses, events = uow.courses.all(), list(uow.interactions.stream())
    if not events:
        raise click.ClickException(
            "the database holds no events to evaluate on (recsys import-interactions loads them)"
        )
    return Dataset("stored", courses, events)


def _say(line: str) -> None:
    """A line of the settings search, logged like the progress lines around it (JSON lines
    under RS_LOG_FORMAT=json, where plain text would break them)."""
    logging.getLogger("recsys.tuning").info("%s", line)


def _said_if_backwards(data: Dataset) -> None:
    """Said, not refused, as the operator may mean it; but a split of one's own whose test part
    is wholly older than its training part is most likely the two files swapped."""
    train, test = data.interactions, data.fixed_test
    if train and test and max(e.occurred_at for e in test) < min(e.occurred_at for e in train):
        click.echo(
            "warning: every event of the test part is older than every event of the training "
            "part: the figures measure predicting the past (train and test swapped?)",
            err=True,
        )


def _row(result: Any, k: int) -> dict[str, Any]:
    m = result.metrics
    return {
        "strategy": result.strategy,
        f"precision@{k}": round(m.precision, 4),
        f"recall@{k}": round(m.recall, 4),
        f"ndcg@{k}": round(m.ndcg, 4),
        f"map@{k}": round(m.map, 4),
        f"hit_rate@{k}": round(m.hit_rate, 4),
        f"coverage@{k}": round(m.coverage, 4),
        "mean_popularity_rank": round(m.novelty, 1),
        "users_evaluated": m.users_evaluated,
        "users_skipped": m.users_skipped,
        "fit_seconds": round(result.fit_seconds, 3),
        "recommend_seconds": round(result.recommend_seconds, 3),
        "settings": result.settings,
        **{
            f"{metric}@{k}_ci95": [round(low, 4), round(high, 4)]
            for metric, (low, high) in result.intervals.items()
        },
        **(
            {
                "vs_baseline": {
                    f"{metric}@{k}": {
                        "difference": round(d, 4),
                        "ci95": [round(lo, 4), round(hi, 4)],
                    }
                    for metric, (d, lo, hi) in result.against_baseline.items()
                }
            }
            if result.against_baseline
            else {}
        ),
    }


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    """A row's columns for the table (the intervals have their own)."""
    return {
        c: v
        for c, v in row.items()
        if not c.endswith("_ci95") and c not in ("vs_baseline", "settings")
    }


def _intervals(report: EvaluationReport, k: int) -> str:
    """How sure the figures are: each strategy's 95% intervals and its difference from the
    baseline on the same learners (nothing when fewer than two learners were evaluated)."""
    if not any(r.intervals for r in report.results):
        return ""
    compared = len(report.results) > 1
    rows = []
    for result in report.results:
        row = {"strategy": result.strategy}
        for metric, (low, high) in result.intervals.items():
            row[f"{metric}@{k} 95% CI"] = f"{low:.4f}-{high:.4f}"
        for metric in result.intervals if compared else ():
            against = result.against_baseline.get(metric)  # none for the baseline itself
            row[f"{metric}@{k} minus {report.baseline}"] = (
                f"{against[0]:+.4f} ({against[1]:+.4f} to {against[2]:+.4f})" if against else "-"
            )
        rows.append(row)
    learners = report.results[0].metrics.users_evaluated
    said = f"95% intervals over the {learners} learners evaluated (bootstrap, {DRAWS} draws)"
    if compared:
        said += (
            f", and each strategy's difference from {report.baseline} (--baseline) on the same "
            "learners: an interval that holds 0 is no clear difference, each at 95% on its own"
        )
    return f"{said}:\n{_table(rows)}"


def _fitted_with(report: EvaluationReport) -> None:
    """What each strategy was measured with, searched or not: without a search nothing else
    would say that a pinned setting (RS_ITEM_CF_REGULARIZATION=42) was applied."""
    if report.tuning is None:
        click.echo("no settings search: pinned settings as given, the others at their defaults")
    if report.pinned:
        click.echo(f"pinned settings, used as given: {json.dumps(report.pinned)}")
    for result in report.results:
        click.echo(f"{result.strategy} fitted with {json.dumps(result.settings)}")


def _table(rows: list[dict[str, Any]]) -> str:
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def _plot(report: EvaluationReport, rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [
        f"{name}@{report.k}"
        for name in ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")
    ]
    figure, axes = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(rows)
    for i, row in enumerate(rows):
        axes.bar(
            [m + i * width for m in range(len(metrics))],
            [row[m] for m in metrics],
            width,
            label=row["strategy"],
        )
    axes.set_xticks([m + 0.4 - width / 2 for m in range(len(metrics))], metrics)
    axes.set_title(f"{report.dataset}, {report.protocol} split, K={report.k}")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _output(ctx: click.Context, param: click.Parameter, path: Path | None) -> Path | None:
    """An output file in a folder that exists and takes files: checked before the evaluation,
    whose minutes of work would otherwise be lost when the file cannot be written."""
    if path is None:
        return None
    if not path.parent.is_dir():
        raise click.BadParameter(f"{path.parent} is not a directory")
    if not os.access(path.parent, os.W_OK):
        raise click.BadParameter(f"{path.parent} is not writable")
    return path


def _plot_output(ctx: click.Context, param: click.Parameter, path: Path | None) -> Path | None:
    """As _output, in a format matplotlib writes (no extension: PNG, to which it adds .png)."""
    if path is not None and path.suffix:
        from matplotlib.backend_bases import FigureCanvasBase

        formats = sorted(FigureCanvasBase.get_supported_filetypes())
        if path.suffix[1:].lower() not in formats:
            raise click.BadParameter(f"{path.name}: a plot is written as {', '.join(formats)}")
    return _output(ctx, param, path)


def _budget(ctx: click.Context, param: click.Parameter, seconds: float | None) -> float | None:
    """Refused as RS_TUNING_BUDGET_SECONDS refuses it: "inf" ran the search and then failed
    sizing two_tower's ensemble, and "nan" (never more than 0) silently turned it off."""
    if seconds is not None and not math.isfinite(seconds):
        raise click.BadParameter(f"{seconds} is not a number of seconds; give a finite one")
    return seconds


def _share(ctx: click.Context, param: click.Parameter, ratio: float) -> float:
    if math.isnan(ratio):  # passes FloatRange: no comparison with NaN is true
        raise click.BadParameter("nan is not a share; give one from 0.05 to 0.95")
    return ratio


OUTPUT = click.Path(dir_okay=False, writable=True, path_type=Path)
#: the protocols whose cut `--ratio` sets
RATIO_PROTOCOLS = ("random", "temporal")
#: numpy's generators, which the bootstrap draws from, take no negative seed: refused after
#: every strategy was fitted and evaluated, the whole run was lost
SEED = click.IntRange(min=0)


@cli.command("eval")
@click.option("--dataset", type=click.Choice(DATASETS), required=True)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Default: $RS_DATA_DIR/<dataset folder>.",
)
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="random", show_default=True)
@click.option(
    "--strategy",
    "strategies",
    default="popularity,content",
    show_default=True,
    help="Comma-separated.",
)
@click.option("--k", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--seed", default=42, show_default=True, type=SEED)
@click.option(
    "--ratio",
    default=0.75,
    show_default=True,
    type=click.FloatRange(0.05, 0.95),
    callback=_share,
    help="Train share (random, temporal).",
)
@click.option(
    "--weights",
    default=None,
    help="Hybrid weights for this run, e.g. item_cf:0.7,two_tower:0.3 (components: "
    f"{', '.join(sorted(HYBRID_COMPONENTS))}).",
)
@click.option(
    "--two-tower-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="two_tower settings for this run (default: $RS_TWO_TOWER_CONFIG or configs/two_tower.yaml).",
)
@click.option(
    "--tuning-budget",
    type=click.FloatRange(0),
    default=None,
    callback=_budget,
    help="Seconds to choose settings on a validation split of the training part "
    "(default: $RS_TUNING_BUDGET_SECONDS or 120; 0 uses the configured settings as they are).",
)
@click.option(
    "--baseline",
    default=None,
    help="The strategy the others are compared with, on the same learners "
    "(default: hybrid when evaluated, else the first listed).",
)
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="--dataset csv: leave out the bad rows of your files (by default they stop the evaluation).",
)
@click.option("--json", "json_out", type=OUTPUT, default=None, callback=_output)
@click.option("--plot", "plot_out", type=OUTPUT, default=None, callback=_plot_output)
@click.pass_context
def evaluate(
    ctx: click.Context,
    dataset: str,
    data_dir: Path | None,
    protocol: str,
    strategies: str,
    k: int,
    seed: int,
    ratio: float,
    json_out: Path | None,
    plot_out: Path | None,
    weights: str | None = None,
    two_tower_config: Path | None = None,
    tuning_budget: float | None = None,
    baseline: str | None = None,
    skip_invalid: bool = False,
) -> None:
    """Fit each strategy on the training part and measure it on the test part. Settings not
    pinned (in the configuration, --weights or --two-tower-config) are first chosen on a
    validation split of the training part, split again like the test."""
    # each once: a name given twice would be fitted twice and printed as two rows
    names = list(dict.fromkeys(s.strip() for s in strategies.split(",") if s.strip()))
    if not names:
        raise click.BadParameter(
            "name at least one strategy, e.g. popularity,content", param_hint="'--strategy'"
        )
    given = ctx.get_parameter_source("ratio")  # None: eval-two-tower, which takes no --ratio
    if protocol not in RATIO_PROTOCOLS and given not in (None, click.core.ParameterSource.DEFAULT):
        # the figures would pass for a split this share made
        raise click.BadParameter(
            f"the {protocol} protocol splits its own way; --ratio applies to "
            f"{' and '.join(RATIO_PROTOCOLS)}",
            param_hint="'--ratio'",
        )
    container = container_of(ctx, schema=False)
    pins = {n: dict(p) for n, p in (container.config.tuning_pins() or {}).items()}
    if two_tower_config is not None:
        try:
            explicit = two_tower_settings(read_environment(), two_tower_config)
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
        container.config.two_tower.from_value(explicit)
        pins["two_tower"] = pins.get("two_tower", {}) | {
            k: explicit[k] for k in ("objective", "members") if k in explicit
        }
    if tuning_budget is None:
        configured = container.config.tuning_budget_seconds() or read_environment().get(
            "RS_TUNING_BUDGET_SECONDS"
        )
        try:
            tuning_budget = float(configured or 120.0)
        except ValueError:
            raise click.BadParameter(
                f"RS_TUNING_BUDGET_SECONDS must be a number, got {configured!r}"
            ) from None
    if weights and HybridRecommender.name not in names:  # as the API refuses them
        raise click.BadParameter(
            "they weigh the hybrid's components; add hybrid to --strategy", param_hint="--weights"
        )
    try:
        # the components the service's hybrid blends (the implicit peer is not one)
        parsed = parse_weights(weights, sorted(HYBRID_COMPONENTS)) if weights else None
    except DomainError as error:
        raise click.BadParameter(str(error), param_hint="--weights") from None
    data = load_dataset(container, dataset, data_dir, skip_invalid)
    if protocol == "fixed":
        _said_if_backwards(data)
    query = EvaluationQuery(
        data,
        names,
        protocol,
        k,
        seed,
        ratio,
        parsed,
        tuning_budget > 0,
        tuning_budget,
        pins,
        baseline.strip() if baseline else None,
    )
    shown: dict[str, Progress] = {}

    def progress(strategy: str, users_done: int, users: int) -> None:
        if strategy not in shown:
            for earlier in shown.values():
                earlier.finish()
            shown[strategy] = Progress(f"evaluating {strategy}", users, unit="learners")
            shown[strategy].__enter__()
        shown[strategy].update(users_done)

    try:
        report = container.evaluate_strategies().execute(query, progress, _say)
    except (DomainError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    finally:
        for each in shown.values():
            each.finish()
    rows = [_row(r, k) for r in report.results]
    share = ratio if protocol in RATIO_PROTOCOLS else None  # the other protocols take none
    try:
        _printed(report, rows, k, seed, share)
    except BrokenPipeError:  # `recsys eval ... | head`: the files below are still written
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if json_out:
        payload = {
            "dataset": report.dataset,
            "protocol": report.protocol,
            "k": k,
            "seed": seed,
            "ratio": share,
            "train_events": report.train_events,
            "test_events": report.test_events,
            "new_learners": report.new_learners,
            "baseline": report.baseline,
            "pinned": report.pinned,
            "results": rows,
            "tuning": report.tuning.as_dict() if report.tuning else None,
        }
        _results_written(json_out, json.dumps(payload, indent=2) + "\n")
    if plot_out:
        try:
            _plot(report, rows, plot_out)
        except OSError as error:
            raise _unwritten(plot_out, error) from None


def _printed(
    report: EvaluationReport, rows: list[dict[str, Any]], k: int, seed: int, share: float | None
) -> None:
    click.echo(
        f"{report.dataset}: {report.protocol} split"
        + (f", ratio {share}" if share is not None else "")
        + f", seed {seed}, {report.train_events} training and {report.test_events} test events, K={k}"
    )
    click.echo(_table([_figures(r) for r in rows]))
    if report.new_learners:
        click.echo(
            f"{report.new_learners} of the learners evaluated "
            + ("is" if report.new_learners == 1 else "are")
            + " not in the training part: every strategy is scored on popularity's list for "
            "them, what the service serves a learner without history"
        )
    sureness = _intervals(report, k)
    if sureness:
        click.echo(sureness)
    if report.tuning is not None:
        for name, chosen in report.tuning.settings.items():
            figures = report.tuning.validation.get(name, {})
            pinned = report.tuning.pinned.get(name, {})
            click.echo(
                f"{name}: {json.dumps(chosen)}"
                + (f" (validation ndcg@10 {figures['ndcg@10']})" if figures else "")
                + (f" pinned {json.dumps(pinned)}" if pinned else "")
            )
    _fitted_with(report)


def _results_written(path: Path, text: str) -> None:
    """Results that cannot be written (a full disk) leave a previous run's whole, and are one
    line, the figures being printed above."""
    try:
        replaced_whole(path, lambda file: file.write_text(text))
    except OSError as error:
        raise _unwritten(path, error) from None


def _unwritten(path: Path, error: OSError) -> click.ClickException:
    return click.ClickException(
        f"cannot write {path}: {error.strerror or error}; the figures are above"
    )


@cli.command("eval-two-tower")
@click.option("--dataset", type=click.Choice(DATASETS), default="ml-100k", show_default=True)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Default: $RS_DATA_DIR/<dataset folder>.",
)
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="random", show_default=True)
@click.option("--k", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--seed", default=42, show_default=True, type=SEED)
@click.option("--json", "json_out", type=OUTPUT, default=None, callback=_output)
@click.pass_context
def eval_two_tower(
    ctx: click.Context,
    dataset: str,
    data_dir: Path | None,
    protocol: str,
    k: int,
    seed: int,
    json_out: Path | None,
) -> None:
    """The original command name: `recsys eval --strategy two_tower`."""
    ctx.invoke(
        evaluate,
        dataset=dataset,
        data_dir=data_dir,
        protocol=protocol,
        strategies="two_tower",
        k=k,
        seed=seed,
        ratio=0.75,
        json_out=json_out,
        plot_out=None,
    )


@cli.command("import-dataset")
@click.option("--dataset", type=click.Choice(("ml-100k", "cnpc")), required=True)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Default: $RS_DATA_DIR/<dataset folder>.",
)
@click.pass_context
def import_dataset(ctx: click.Context, dataset: str, data_dir: Path | None) -> None:
    """Load a public dataset's catalog and every interaction (test part included) into the database."""
    container = container_of(ctx, lasting=True)
    data = load_dataset(container, dataset, data_dir)
    events = data.interactions + (data.fixed_test or [])
    known = {course.course_id for course in data.courses}
    if stray := next((e for e in events if e.course_id not in known), None):
        raise click.ClickException(  # checked before a write: nothing is stored half
            f"{dataset}'s events name course {stray.course_id!r}, which its catalog does not "
            "list (a file cut short, or from another release); nothing was imported"
        )
    container.upsert_courses().execute(data.courses)
    try:
        result = ingest(container, events, f"importing {dataset}")
    except DomainError as error:  # an event id stored with other content: a changed file
        raise click.ClickException(
            f"{error}; the batches before it were stored (these files differ from the {dataset} "
            "imported into this database before, whose events have the same ids)"
        ) from None
    click.echo(
        f"imported {len(data.courses)} courses and {result.accepted} events "
        f"({result.duplicates} already stored)" + said_ignored(result)
    )
