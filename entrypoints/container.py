"""The composition root: the only module that names concrete adapters."""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.datasets import CnpcSource, MovieLensSource
from adapters.demo_data import demo_data
from adapters.implicit_peer import ImplicitRecommender
from adapters.in_memory import InMemoryStore, InMemoryUnitOfWork
from adapters.popularity import PopularityRecommender
from adapters.sqlalchemy.engine import build_engine
from adapters.sqlalchemy.migrate import upgrade
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.tfidf import ContentRecommender
from application.strategies import StrategyRegistry
from application.use_cases.evaluate_strategies import EvaluateStrategies
from application.use_cases.find_similar import FindSimilar
from application.use_cases.log_interactions import LogInteractions
from application.use_cases.recommend_home import RecommendHome
from application.use_cases.upsert_courses import UpsertCourses


def _backend(url: str) -> str:
    return "memory" if url == "memory://" else "sqlalchemy"


class Container(containers.DeclarativeContainer):
    wiring_config = containers.WiringConfiguration(packages=["entrypoints.api"])

    config = providers.Configuration()

    backend = providers.Callable(_backend, config.database_url)
    engine = providers.Singleton(build_engine, config.database_url)
    memory_store = providers.Singleton(InMemoryStore)
    uow = providers.Selector(
        backend,
        memory=providers.Factory(InMemoryUnitOfWork, memory_store),
        sqlalchemy=providers.Factory(SqlAlchemyUnitOfWork, engine),
    )
    migrate = providers.Callable(upgrade, config.database_url)

    popularity = providers.Factory(
        PopularityRecommender, half_life_days=config.popularity_half_life_days
    )
    content = providers.Factory(ContentRecommender)
    strategies = providers.Singleton(
        StrategyRegistry,
        factories=providers.Dict(popularity=popularity.provider, content=content.provider),
        uow_factory=uow.provider,
        refresh_seconds=config.refresh_seconds,
    )

    recommend_home = providers.Factory(
        RecommendHome,
        uow_factory=uow.provider,
        strategies=strategies,
        default_strategy=config.default_recommender,
    )
    find_similar = providers.Factory(FindSimilar, strategies=strategies)
    log_interactions = providers.Factory(LogInteractions, uow_factory=uow.provider)
    upsert_courses = providers.Factory(UpsertCourses, uow_factory=uow.provider)

    demo_data = providers.Object(demo_data)

    # Offline evaluation: popularity is the plain "most popular" count, as in published baselines.
    evaluation_factories = providers.Dict(
        {
            "popularity": providers.Factory(PopularityRecommender, half_life_days=None).provider,
            "content": content.provider,
            "implicit-als": providers.Factory(ImplicitRecommender, "als").provider,
            "implicit-bpr": providers.Factory(ImplicitRecommender, "bpr").provider,
        }
    )
    evaluate_strategies = providers.Factory(EvaluateStrategies, factories=evaluation_factories)
    dataset_sources = providers.Dict(
        {
            "ml-100k": providers.Factory(MovieLensSource).provider,
            "cnpc": providers.Factory(CnpcSource).provider,
        }
    )
