"""The composition root: the only module that names concrete adapters."""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.datasets import CnpcSource, MovieLensSource
from adapters.demo_data import demo_data
from adapters.fs_artifacts import FilesystemArtifactStore
from adapters.fs_jobs import FilesystemJobStore
from adapters.implicit_peer import ImplicitRecommender
from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from adapters.item_cf import ItemCFRecommender
from adapters.popularity import PopularityRecommender
from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.migrate import upgrade
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.tfidf import ContentRecommender
from adapters.two_tower.recommender import TwoTowerRecommender
from adapters.two_tower.trainer import TwoTowerTrainer
from application.bandit import BanditService
from application.hybrid import HybridRecommender
from application.ranking import RankingPolicy
from application.strategies import StrategyRegistry
from application.use_cases.compute_stats import ComputeStats
from application.use_cases.evaluate_strategies import EvaluateStrategies
from application.use_cases.explain_recommendation import ExplainRecommendation
from application.use_cases.find_similar import FindSimilar
from application.use_cases.log_interactions import LogInteractions
from application.use_cases.rebuild_index import RebuildIndex
from application.use_cases.recommend_home import RecommendHome
from application.use_cases.start_reindex import StartReindex
from application.use_cases.train_two_tower import TrainTwoTower
from application.use_cases.update_bandit import UpdateBandit
from application.use_cases.upsert_courses import UpsertCourses
from domain.bandit import make_policy


def _backend(url: str) -> str:
    return "memory" if url == "memory://" else "sqlalchemy"


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()

    backend = providers.Callable(_backend, config.database_url)
    engine = providers.Singleton(
        build_engine, config.database_url, timeout=config.db_timeout_seconds
    )
    memory_store = providers.Singleton(InMemoryStore)
    uow = providers.Selector(
        backend,
        memory=providers.Factory(InMemoryUnitOfWork, memory_store),
        sqlalchemy=providers.Factory(SqlAlchemyUnitOfWork, engine),
    )
    migrate = providers.Callable(upgrade, config.database_url)

    artifact_store = providers.Singleton(
        FilesystemArtifactStore, config.models_dir, keep=config.keep_versions
    )
    jobs = providers.Singleton(FilesystemJobStore, config.models_dir)
    two_tower_trainer = providers.Factory(
        TwoTowerTrainer, settings=config.two_tower, hnsw_above=config.hnsw_above
    )

    popularity = providers.Factory(
        PopularityRecommender, half_life_days=config.popularity_half_life_days
    )
    content = providers.Factory(ContentRecommender)
    item_cf = providers.Factory(ItemCFRecommender)
    hybrid = providers.Factory(HybridRecommender, weights=config.hybrid_weights)
    two_tower = providers.Factory(
        TwoTowerRecommender, store=artifact_store, hnsw_above=config.hnsw_above
    )
    strategies = providers.Singleton(
        StrategyRegistry,
        factories=providers.Dict(
            popularity=popularity.provider,
            content=content.provider,
            item_cf=item_cf.provider,
            two_tower=two_tower.provider,
        ),
        composites=providers.Dict(hybrid=hybrid.provider),
        uow_factory=uow.provider,
        refresh_seconds=config.refresh_seconds,
        artifacts=artifact_store,
        artifact_names=("two_tower",),
    )

    bandit = providers.Singleton(
        BanditService,
        policy=providers.Factory(make_policy, config.bandit_policy, config.bandit_epsilon),
        store=artifact_store,
        arms=["two_tower", "item_cf", "hybrid", "content", "popularity"],
    )
    ranking_policy = providers.Factory(RankingPolicy, diversity=config.diversity)
    recommend_home = providers.Factory(
        RecommendHome,
        uow_factory=uow.provider,
        strategies=strategies,
        default_strategy=config.default_recommender,
        policy=ranking_policy,
        bandit=bandit,
    )
    update_bandit = providers.Factory(UpdateBandit, uow.provider, bandit)
    compute_stats = providers.Factory(ComputeStats, uow.provider)
    explain_recommendation = providers.Factory(
        ExplainRecommendation, uow.provider, strategies, policy=ranking_policy
    )
    find_similar = providers.Factory(FindSimilar, strategies=strategies)
    log_interactions = providers.Factory(
        LogInteractions, uow_factory=uow.provider, max_clock_skew=config.max_clock_skew_seconds
    )
    upsert_courses = providers.Factory(UpsertCourses, uow_factory=uow.provider)
    train_two_tower = providers.Factory(
        TrainTwoTower, uow.provider, two_tower_trainer, artifact_store
    )
    rebuild_index = providers.Factory(RebuildIndex, uow.provider, two_tower_trainer, artifact_store)
    start_reindex = providers.Factory(StartReindex, jobs, rebuild_index.provider)

    demo_data = providers.Object(demo_data)

    # Offline evaluation: popularity is the plain "most popular" count, as in published baselines.
    evaluation_factories = providers.Dict(
        {
            "popularity": providers.Factory(PopularityRecommender, half_life_days=None).provider,
            "content": content.provider,
            "two_tower": providers.Factory(TwoTowerRecommender, trainer=two_tower_trainer).provider,
            "item_cf": item_cf.provider,
            "implicit-als": providers.Factory(ImplicitRecommender, "als").provider,
            "implicit-bpr": providers.Factory(ImplicitRecommender, "bpr").provider,
        }
    )
    evaluate_strategies = providers.Factory(
        EvaluateStrategies,
        factories=evaluation_factories,
        composites=providers.Dict(hybrid=hybrid.provider),
    )
    dataset_sources = providers.Dict(
        {
            "ml-100k": providers.Factory(MovieLensSource).provider,
            "cnpc": providers.Factory(CnpcSource).provider,
        }
    )
