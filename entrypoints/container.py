"""The composition root: the only module that names concrete adapters."""

from __future__ import annotations

import os
import socket
from typing import Any

from dependency_injector import containers, providers

from adapters.datasets import CnpcSource, MovieLensSource
from adapters.demo_data import demo_data
from adapters.demo_slates import demo_lists_served, demo_slates
from adapters.fs_artifacts import FilesystemArtifactStore
from adapters.implicit_peer import ImplicitRecommender
from adapters.in_memory import InMemoryFitTurn, InMemoryStore, InMemoryUnitOfWork
from adapters.item_cf import ItemCFRecommender
from adapters.popularity import PopularityRecommender, live_popularity
from adapters.sequence import SequenceRecommender
from adapters.sqlalchemy.artifacts import DatabaseArtifactStore
from adapters.sqlalchemy.breaker import Breaker
from adapters.sqlalchemy.engine import build_engine, on_answer
from adapters.sqlalchemy.fit_turn import SqlFitTurn
from adapters.sqlalchemy.migrate import upgrade
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.tfidf import ContentRecommender
from adapters.two_tower.recommender import TwoTowerRecommender
from application.admin_sessions import AdminSessions
from application.bandit import BanditService
from application.failed_credentials import FailedCredentials
from application.hybrid import HybridRecommender
from application.ranking import RankingPolicy
from application.recent_histories import RecentHistories
from application.slate_recorder import SlateRecorder
from application.strategies import StrategyRegistry
from application.trainer import Trainer, job_handlers
from application.use_cases.compute_stats import ComputeStats
from application.use_cases.erase_learner import EraseLearner
from application.use_cases.evaluate_strategies import EvaluateStrategies
from application.use_cases.explain_recommendation import ExplainRecommendation
from application.use_cases.find_similar import FindSimilar
from application.use_cases.fit_strategies import FitStrategies
from application.use_cases.ingest_xapi import IngestStatements
from application.use_cases.jobs import RunJobs, SubmitJob
from application.use_cases.list_model_versions import ListModelVersions
from application.use_cases.log_interactions import LogInteractions
from application.use_cases.rebuild_index import RebuildIndex
from application.use_cases.recommend_home import RecommendHome
from application.use_cases.roll_back_model import ReleaseModel, RollBackModel
from application.use_cases.store_daily_figures import StoreDailyFigures
from application.use_cases.train_two_tower import TrainTwoTower
from application.use_cases.update_bandit import UpdateBandit
from application.use_cases.upsert_courses import UpsertCourses
from domain.bandit import make_policy
from entrypoints import metrics
from entrypoints.config import masked_url
from entrypoints.xapi_mapping_file import load_mapping


def _tuned_two_tower(
    base: dict[str, Any] | None, hnsw_above: int, **settings: Any
) -> TwoTowerRecommender:
    """two_tower trained in-process with the configured settings, `settings` winning."""
    trainer = _two_tower_trainer(settings={**(base or {}), **settings}, hnsw_above=hnsw_above)
    return TwoTowerRecommender(trainer=trainer, hnsw_above=hnsw_above)


def _backend(url: str) -> str:
    return "memory" if url == "memory://" else "sqlalchemy"


def _two_tower_trainer(**settings):  # type: ignore[no-untyped-def]
    """Imported when first needed: web workers never train, and never import torch."""
    from adapters.two_tower.trainer import TwoTowerTrainer

    return TwoTowerTrainer(**settings)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()

    backend = providers.Callable(_backend, config.database_url)
    #: after a database failure, requests within the timeout fail at once instead of each waiting
    breaker = providers.Singleton(Breaker, window=config.db_timeout_seconds)
    engine = providers.Singleton(
        build_engine, config.database_url, timeout=config.db_timeout_seconds, breaker=breaker
    )
    memory_store = providers.Singleton(InMemoryStore)
    uow = providers.Selector(
        backend,
        memory=providers.Factory(InMemoryUnitOfWork, memory_store),
        sqlalchemy=providers.Factory(SqlAlchemyUnitOfWork, engine, breaker),
    )
    #: units of work that only read (a request's history, the throttle's check): no transaction
    reads = providers.Selector(
        backend,
        memory=providers.Factory(InMemoryUnitOfWork, memory_store),
        sqlalchemy=providers.Factory(SqlAlchemyUnitOfWork, engine, breaker, read_only=True),
    )
    migrate = providers.Callable(upgrade, config.database_url)
    #: one trainer fits at a time, on every host
    fit_turn = providers.Selector(
        backend,
        memory=providers.Factory(InMemoryFitTurn, memory_store),
        sqlalchemy=providers.Factory(SqlFitTurn, engine),
    )
    #: `watch_answers(callback)`: callback() after every statement the database answers (a web
    #: worker logs when an outage is over); the in-memory store has no outages
    watch_answers = providers.Selector(
        backend,
        memory=providers.Callable(lambda callback: None),
        sqlalchemy=providers.Callable(on_answer, engine),
    )

    folder_store = providers.Singleton(
        FilesystemArtifactStore, config.models_dir, keep=config.keep_versions
    )
    database_store = providers.Singleton(DatabaseArtifactStore, engine, keep=config.keep_versions)
    #: where trainers publish and web workers load: a folder every host mounts, or the database
    artifact_store = providers.Selector(
        config.models_store, folder=folder_store, database=database_store
    )
    two_tower_trainer = providers.Factory(
        _two_tower_trainer, settings=config.two_tower, hnsw_above=config.hnsw_above
    )

    popularity = providers.Factory(
        PopularityRecommender, half_life_days=config.popularity_half_life_days
    )
    content = providers.Factory(ContentRecommender)
    item_cf = providers.Factory(ItemCFRecommender)
    sequence = providers.Factory(SequenceRecommender)
    hybrid = providers.Factory(HybridRecommender, weights=config.hybrid_weights)
    two_tower = providers.Factory(TwoTowerRecommender, hnsw_above=config.hnsw_above)
    #: what the trainer fits and publishes (two_tower has its own trainer)
    fitted_strategies = providers.Dict(
        popularity=popularity.provider,
        content=content.provider,
        item_cf=item_cf.provider,
        sequence=sequence.provider,
    )
    #: what web workers load from the published artifacts
    published_strategies = providers.Dict(
        popularity=popularity.provider,
        content=content.provider,
        item_cf=item_cf.provider,
        sequence=sequence.provider,
        two_tower=two_tower.provider,
    )
    strategies = providers.ThreadSafeSingleton(
        StrategyRegistry,
        factories=published_strategies,
        composites=providers.Dict(hybrid=hybrid.provider),
        fallbacks=providers.Dict(popularity=providers.Object(live_popularity)),
        uow_factory=reads.provider,
        artifacts=artifact_store,
        refresh_seconds=config.refresh_seconds,
        on_loaded=providers.Object(metrics.live_version),
        pins=config.tuning_pins,
    )

    bandit = providers.ThreadSafeSingleton(
        BanditService,
        policy=providers.Factory(make_policy, config.bandit_policy, config.bandit_epsilon),
        store=artifact_store,
        arms=["two_tower", "item_cf", "sequence", "hybrid", "content", "popularity"],
        refresh_seconds=config.refresh_seconds,
    )
    ranking_policy = providers.Factory(RankingPolicy, diversity=config.diversity)
    slate_recorder = providers.ThreadSafeSingleton(SlateRecorder, uow.provider)
    recent_histories = providers.ThreadSafeSingleton(RecentHistories)
    recommend_home = providers.Factory(
        RecommendHome,
        uow_factory=uow.provider,
        strategies=strategies,
        default_strategy=config.default_recommender,
        policy=ranking_policy,
        bandit=bandit,
        recorder=slate_recorder,
        histories=recent_histories,
        reads=reads.provider,
    )
    update_bandit = providers.Factory(UpdateBandit, uow.provider, bandit)
    store_daily_figures = providers.Factory(
        StoreDailyFigures, uow.provider, retention_days=config.list_retention_days
    )
    compute_stats = providers.Factory(ComputeStats, uow.provider)
    explain_recommendation = providers.Factory(
        ExplainRecommendation, uow.provider, strategies, policy=ranking_policy
    )
    find_similar = providers.Factory(FindSimilar, strategies=strategies)
    log_interactions = providers.Factory(
        LogInteractions, uow_factory=uow.provider, max_clock_skew=config.max_clock_skew_seconds
    )
    upsert_courses = providers.Factory(UpsertCourses, uow_factory=uow.provider)
    xapi_mapping = providers.Singleton(load_mapping, config.xapi_mapping)
    ingest_statements = providers.Factory(
        IngestStatements,
        uow_factory=uow.provider,
        mapping=xapi_mapping,
        max_clock_skew=config.max_clock_skew_seconds,
    )
    erase_learner = providers.Factory(
        EraseLearner, uow_factory=uow.provider, erased=slate_recorder.provided.forget_mark
    )
    admin_sessions = providers.Singleton(AdminSessions, uow.provider)
    failed_credentials = providers.Singleton(FailedCredentials, uow.provider, reads=reads.provider)
    train_two_tower = providers.Factory(
        TrainTwoTower, uow.provider, two_tower_trainer, artifact_store
    )
    rebuild_index = providers.Factory(RebuildIndex, uow.provider, two_tower_trainer, artifact_store)
    #: the operator's view of the versions kept, and going back to one of them
    published_names = providers.Callable(sorted, published_strategies)
    list_model_versions = providers.Factory(ListModelVersions, artifact_store, published_names)
    roll_back_model = providers.Factory(
        RollBackModel, artifact_store, published_names, erase_learner.provided.latest
    )
    release_model = providers.Factory(ReleaseModel, artifact_store, published_names)

    # The trainer process: fitting, publishing and background jobs. Settings are chosen on the
    # deployment's own data with what it serves (popularity with its half-life).
    #: two_tower trained in-process with keyword settings over the configured ones (tuning)
    tuned_two_tower = providers.Factory(
        _tuned_two_tower, base=config.two_tower, hnsw_above=config.hnsw_above
    )
    deployment_tuning_factories = providers.Dict(
        popularity=popularity.provider,
        content=content.provider,
        item_cf=item_cf.provider,
        sequence=sequence.provider,
        two_tower=tuned_two_tower.provider,
    )
    fit_strategies = providers.Factory(
        FitStrategies,
        uow_factory=uow.provider,
        factories=fitted_strategies,
        store=artifact_store,
        train_two_tower=train_two_tower.provider,
        rebuild_index=rebuild_index.provider,
        train_interval=config.train_interval_seconds,
        tuning_factories=deployment_tuning_factories,
        pins=config.tuning_pins,
        tuning_budget=config.tuning_budget_seconds,
        database=providers.Callable(masked_url, config.database_url),
    )
    submit_job = providers.Factory(SubmitJob, uow.provider, kinds=("reindex",))
    run_jobs = providers.Factory(
        RunJobs,
        uow_factory=uow.provider,
        handlers=providers.Callable(job_handlers, rebuild_index.provider),
        worker=providers.Callable(_worker_name),
    )
    trainer = providers.Factory(
        Trainer,
        pins=config.tuning_pins,
        fit=fit_strategies.provider,
        jobs=run_jobs.provider,
        update_bandit=update_bandit.provider,
        fit_interval=config.fit_interval_seconds,
        uow_factory=uow.provider,
        worker=providers.Callable(_worker_name),
        fit_turn=fit_turn,
        store_figures=store_daily_figures.provider,
    )

    demo_data = providers.Object(demo_data)
    demo_slates = providers.Object(demo_slates)
    demo_lists_served = providers.Object(demo_lists_served)

    # Offline evaluation: popularity is the plain "most popular" count, as in published baselines.
    evaluation_factories = providers.Dict(
        {
            "popularity": providers.Factory(PopularityRecommender, half_life_days=None).provider,
            "content": content.provider,
            "two_tower": providers.Factory(TwoTowerRecommender, trainer=two_tower_trainer).provider,
            "item_cf": item_cf.provider,
            "sequence": sequence.provider,
            "implicit-als": providers.Factory(ImplicitRecommender, "als").provider,
            "implicit-bpr": providers.Factory(ImplicitRecommender, "bpr").provider,
        }
    )
    # Fit-time tuning (application.tuning.tune): factories taking keyword settings.
    tuning_factories = providers.Dict(
        {
            "popularity": providers.Factory(PopularityRecommender, half_life_days=None).provider,
            "content": content.provider,
            "item_cf": item_cf.provider,
            "sequence": sequence.provider,
            "two_tower": tuned_two_tower.provider,
        }
    )
    evaluate_strategies = providers.Factory(
        EvaluateStrategies,
        factories=evaluation_factories,
        composites=providers.Dict(hybrid=hybrid.provider),
        tunable=tuning_factories,
    )
    dataset_sources = providers.Dict(
        {
            "ml-100k": providers.Factory(MovieLensSource).provider,
            "cnpc": providers.Factory(CnpcSource).provider,
        }
    )
