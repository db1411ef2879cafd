"""Two-tower training, embedding export and index rebuilding."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from application.ports import ArtifactStore, CorruptArtifact, StaleBase, UnloadableArtifact
from application.trainer import turn_waited
from application.use_cases.roll_back_model import held_restoring
from domain.errors import DomainError
from entrypoints.cli.base import cli, container_of, replaced_whole, unpublished, unwritable
from entrypoints.config import ConfigError, read_environment, two_tower_settings
from entrypoints.files import JSON_SUFFIXES
from entrypoints.progress import MemberEpochs, Progress

if TYPE_CHECKING:
    from application.use_cases.train_two_tower import TrainResult
    from entrypoints.container import Container


@cli.command("train-two-tower")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML settings (default: $RS_TWO_TOWER_CONFIG or configs/two_tower.yaml).",
)
@click.option("--epochs", type=click.IntRange(1, 10_000), default=None)
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=None)
@click.option(
    "--if-missing", is_flag=True, help="Do nothing when a model has been trained already."
)
@click.pass_context
def train_two_tower(
    ctx: click.Context,
    config_path: Path | None,
    epochs: int | None,
    batch_size: int | None,
    if_missing: bool,
) -> None:
    """Train the two-tower model on the stored interactions and publish a new version."""
    container = container_of(ctx)
    if not _to_train(container, if_missing):
        return
    settings = dict(container.config.two_tower())
    if config_path is not None:
        try:
            settings = two_tower_settings(read_environment(), config_path)
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
    if epochs is not None:
        settings["epochs"] = epochs
    if batch_size is not None:
        settings["batch_size"] = batch_size
    container.config.two_tower.from_value(settings)
    # the trainers' fitting turn, held while training: a trainer fitting meanwhile trained the same
    # data twice over on the same cores, and the slower of the two had its publish refused
    waited: list[bool] = []

    def waiting() -> None:
        waited.append(True)
        _waiting()

    with turn_waited(container.fit_turn(), None, waiting):
        # checked again after a wait: the trainer may have trained a model meanwhile, another
        # host rolled back (a hold this training would publish over) or a search chose settings
        if waited and not _to_train(container, if_missing):
            return
        result = _trained(container, settings)
    metrics = result.manifest.get("metrics", {})
    click.echo(
        f"published two_tower version {result.version} in {result.seconds:.1f}s: "
        f"validation recall@10 {metrics.get('validation_recall@10', 0):.4f} after "
        f"{_epochs(result.manifest)}, {result.manifest['index']['size']} courses indexed "
        f"({result.manifest['index']['kind']})"
    )


def _trained(container: Container, settings: dict[str, Any]) -> TrainResult:
    # What the trainer fits two_tower with (the settings search's choice, pins winning): a model
    # fitted with others, or not saying which, it would train again at its next cycle.
    wanted = container.fit_strategies().wanted().get("two_tower", {})
    if wanted:
        shown = " ".join(f"{k}={v}" for k, v in sorted(wanted.items()))
        click.echo(f"training with the settings the trainer fits two_tower with: {shown}")
    members = int({**settings, **wanted}.get("members", 1))
    total = int(settings.get("epochs", 100)) * members
    with Progress("training two_tower", total, unit="epochs") as progress:
        try:
            return container.train_two_tower().execute(
                MemberEpochs(progress, members), settings=wanted or None
            )
        except (DomainError, ValueError, StaleBase) as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:
            raise unpublished("two_tower", error) from None


def _waiting() -> None:
    click.echo(
        "waiting for the fitting turn: a trainer or another train-two-tower is fitting "
        "(Ctrl-C stops waiting)"
    )


def _epochs(manifest: dict[str, Any]) -> str:
    """ "12 epochs", or per ensemble member "3 members, 10/8/8 epochs": early stopping ends each
    member on its own, and their sum is no epoch count anyone set."""
    each = manifest.get("member_epochs") or [manifest.get("metrics", {}).get("epochs_run", 0)]
    if len(each) == 1:
        return f"{int(each[0])} epochs"
    return f"{len(each)} members, {'/'.join(str(int(n)) for n in each)} epochs"


def _to_train(container: Container, if_missing: bool) -> bool:
    """Whether to train: not with --if-missing beside a usable model; refused, said, while
    training could not publish."""
    if if_missing and _usable_model(container.artifact_store()):
        click.echo("a two-tower model exists already; not training")
        return False
    _may_publish(container, container.artifact_store())
    return True


def _may_publish(container: Container, store: ArtifactStore) -> None:
    """Before a training that may take hours: an unwritable RS_MODELS_DIR would throw it away at
    the end, and a held rollback is the operator's word that the newer model must not answer (the
    trainer keeps it, even with --force)."""
    try:
        store.check_writable()
    except OSError as error:
        raise unwritable(container, error, "; nothing was trained") from None
    current = store.current_version("two_tower")
    if current is None:
        return
    try:
        restores = held_restoring(store.load("two_tower", current, only=()).manifest)
    except CorruptArtifact:  # a damaged version is for a training to replace
        return
    if restores:
        raise click.ClickException(
            f"two_tower is held by a rollback to {restores}; `recsys rollback two_tower "
            "--release` lets a training replace it; nothing was trained"
        )


def _usable_model(store: ArtifactStore) -> bool:
    """A damaged model is as good as none: --if-missing trains one to replace it."""
    version = store.current_version("two_tower")
    if version is None:
        return False
    try:
        store.verify("two_tower", version)
    except CorruptArtifact as error:
        click.echo(f"{error}; training a new version")
        return False
    return True


def _rebuild(ctx: click.Context, reencode: bool) -> None:
    try:
        result = container_of(ctx).rebuild_index().execute(reencode=reencode)
    except (DomainError, StaleBase) as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise unpublished("two_tower", error) from None
    except UnloadableArtifact as error:  # its checksums hold: a refit would not replace it
        raise click.ClickException(
            f"{error}; `recsys rollback two_tower` goes back to the version before"
        ) from None
    except CorruptArtifact as error:
        raise click.ClickException(
            f"the current version is damaged ({error}); `recsys trainer --once` replaces it "
            "with a good one, then run this again"
        ) from None
    click.echo(
        f"published two_tower version {result.version} (from {result.previous}): {result.indexed} courses indexed"
    )


@cli.command("export-embeddings")
@click.pass_context
def export_embeddings(ctx: click.Context) -> None:
    """Embed every catalog course with the current model and rebuild the FAISS index (after new courses)."""
    _rebuild(ctx, reencode=True)


@cli.command("rebuild-index")
@click.pass_context
def rebuild_index(ctx: click.Context) -> None:
    """Rebuild the FAISS index from the saved course embeddings."""
    _rebuild(ctx, reencode=False)


@cli.command("prepare-training-data")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def prepare_training_data(ctx: click.Context, output: Path) -> None:
    """Export the stored interactions (the training data) to a CSV file, streamed."""
    if output.suffix.lower() in JSON_SUFFIXES:  # import-interactions would read it as JSON lines
        raise click.BadParameter(
            f"{output.name}: the export is CSV; name it .csv", param_hint="'--output'"
        )
    container = container_of(ctx)  # before the file is created: nothing to export without a schema
    if not output.parent.is_dir():  # a mistyped folder is said, not made
        raise click.ClickException(f"cannot write {output}: there is no folder {output.parent}")
    try:
        rows = replaced_whole(output, lambda file: _export(container, file))
    except OSError as error:  # a full disk, a file or folder not ours
        raise click.ClickException(
            f"cannot write {output}: {error.strerror or error}; nothing was exported"
        ) from None
    click.echo(f"wrote {rows} interactions to {output}")


def _export(container: Container, output: Path) -> int:
    rows = 0
    with output.open("w", newline="") as handle, container.uow() as uow:
        writer = csv.writer(handle)
        writer.writerow(
            ["event_id", "user_id", "course_id", "event_type", "occurred_at", "recommendation_id"]
        )
        for event in uow.interactions.stream():
            writer.writerow(
                [
                    event.event_id,
                    event.user_id,
                    event.course_id,
                    event.event_type.value,
                    event.occurred_at.isoformat(),
                    event.recommendation_id or "",
                ]
            )
            rows += 1
    return rows
