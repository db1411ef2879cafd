"""A realistic, seeded LMS: subjects in prerequisite chains, learners with latent interests."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.model import Course, CourseId, EventType, Interaction, Level, UserId

# category -> subject key -> (display name, keywords)
CATALOG: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "Programming": {
        "python": ("Python", ("python", "programming", "scripting")),
        "java": ("Java", ("java", "programming", "object-oriented")),
        "javascript": ("JavaScript", ("javascript", "programming", "web")),
        "csharp": ("C#", ("csharp", "dotnet", "programming")),
        "go": ("Go", ("golang", "concurrency", "programming")),
        "rust": ("Rust", ("rust", "systems", "memory-safety")),
        "cpp": ("C++", ("cpp", "systems", "performance")),
        "algorithms": (
            "Algorithms and Data Structures",
            ("algorithms", "data-structures", "complexity"),
        ),
        "testing": ("Software Testing", ("testing", "tdd", "quality")),
        "git": ("Git and Version Control", ("git", "version-control", "collaboration")),
    },
    "Data Science": {
        "sql": ("SQL for Data Analysis", ("sql", "databases", "analytics")),
        "statistics": ("Statistics", ("statistics", "probability", "inference")),
        "pandas": ("Data Analysis with Pandas", ("pandas", "python", "dataframes")),
        "ml": ("Machine Learning", ("machine-learning", "models", "python")),
        "deep_learning": ("Deep Learning", ("neural-networks", "pytorch", "machine-learning")),
        "visualization": ("Data Visualization", ("visualization", "charts", "storytelling")),
        "nlp": ("Natural Language Processing", ("nlp", "text", "machine-learning")),
        "recsys": ("Recommender Systems", ("recommendations", "ranking", "machine-learning")),
        "big_data": ("Big Data with Spark", ("spark", "distributed", "data-engineering")),
        "experiments": ("A/B Testing and Experiments", ("experiments", "statistics", "product")),
    },
    "Web Development": {
        "html_css": ("HTML and CSS", ("html", "css", "web")),
        "react": ("React", ("react", "javascript", "frontend")),
        "node": ("Node.js", ("node", "javascript", "backend")),
        "django": ("Django", ("django", "python", "backend")),
        "flask": ("Flask", ("flask", "python", "backend")),
        "api_design": ("REST API Design", ("api", "http", "backend")),
        "accessibility": ("Web Accessibility", ("accessibility", "a11y", "frontend")),
        "web_security": ("Web Security", ("security", "owasp", "web")),
    },
    "Cloud and DevOps": {
        "linux": ("Linux Administration", ("linux", "shell", "operations")),
        "docker": ("Docker and Containers", ("docker", "containers", "devops")),
        "kubernetes": ("Kubernetes", ("kubernetes", "containers", "orchestration")),
        "aws": ("AWS Cloud", ("aws", "cloud", "infrastructure")),
        "terraform": ("Infrastructure as Code with Terraform", ("terraform", "iac", "cloud")),
        "ci_cd": ("Continuous Integration and Delivery", ("ci", "cd", "automation")),
        "observability": ("Monitoring and Observability", ("monitoring", "logging", "operations")),
    },
    "Business": {
        "accounting": ("Accounting", ("accounting", "finance", "reporting")),
        "marketing": ("Digital Marketing", ("marketing", "seo", "growth")),
        "project_management": ("Project Management", ("projects", "planning", "agile")),
        "entrepreneurship": ("Entrepreneurship", ("startups", "strategy", "business")),
        "negotiation": ("Negotiation", ("negotiation", "communication", "business")),
        "product_management": ("Product Management", ("product", "roadmaps", "strategy")),
        "finance": ("Corporate Finance", ("finance", "valuation", "investment")),
        "excel": ("Excel for Business", ("excel", "spreadsheets", "analytics")),
    },
    "Design": {
        "ux": ("User Experience Design", ("ux", "research", "design")),
        "ui": ("User Interface Design", ("ui", "layout", "design")),
        "graphic": ("Graphic Design", ("graphics", "typography", "design")),
        "figma": ("Prototyping with Figma", ("figma", "prototyping", "design")),
        "illustration": ("Digital Illustration", ("illustration", "drawing", "art")),
        "photography": ("Photography", ("photography", "composition", "art")),
    },
    "Mathematics": {
        "algebra": ("Linear Algebra", ("linear-algebra", "matrices", "math")),
        "calculus": ("Calculus", ("calculus", "derivatives", "math")),
        "discrete": ("Discrete Mathematics", ("discrete-math", "logic", "math")),
        "probability": ("Probability Theory", ("probability", "random-variables", "math")),
        "optimization": ("Optimization", ("optimization", "convexity", "math")),
    },
    "Languages": {
        "spanish": ("Spanish", ("spanish", "language", "conversation")),
        "french": ("French", ("french", "language", "conversation")),
        "german": ("German", ("german", "language", "grammar")),
        "english_writing": ("English Writing", ("english", "writing", "grammar")),
        "japanese": ("Japanese", ("japanese", "language", "kanji")),
        "mandarin": ("Mandarin Chinese", ("mandarin", "language", "characters")),
    },
    "Personal Development": {
        "public_speaking": ("Public Speaking", ("speaking", "communication", "confidence")),
        "time_management": ("Time Management", ("productivity", "planning", "habits")),
        "leadership": ("Leadership", ("leadership", "teams", "management")),
        "writing": ("Creative Writing", ("writing", "storytelling", "creativity")),
        "mindfulness": ("Mindfulness", ("wellbeing", "focus", "habits")),
    },
    "Security": {
        "network_security": ("Network Security", ("networks", "security", "firewalls")),
        "cryptography": ("Cryptography", ("cryptography", "security", "math")),
        "ethical_hacking": ("Ethical Hacking", ("pentesting", "security", "hacking")),
        "cloud_security": ("Cloud Security", ("cloud", "security", "compliance")),
    },
}

LEVELS = (
    (
        "basic",
        Level.BEGINNER,
        "{name} Basics",
        "Start from zero with {name}: {k0}, {k1} and {k2} explained step by step with hands-on exercises.",
    ),
    (
        "intermediate",
        Level.INTERMEDIATE,
        "Intermediate {name}",
        "Build on the basics of {name}: real projects in {k0} and {k1}, common patterns and best practices for {k2}.",
    ),
    (
        "advanced",
        Level.ADVANCED,
        "Advanced {name}",
        "Master {name}: in-depth {k0}, performance and design trade-offs in {k1}, and expert topics in {k2}.",
    ),
)


def demo_courses() -> list[Course]:
    """About 250 courses: every subject at three levels, each level requiring the one below."""
    courses = []
    for category, subjects in CATALOG.items():
        for key, (name, keywords) in subjects.items():
            previous: tuple[CourseId, ...] = ()
            for suffix, level, title, text in LEVELS:
                course_id = CourseId(f"course_{key}_{suffix}")
                courses.append(
                    Course(
                        course_id=course_id,
                        title=title.format(name=name),
                        description=text.format(
                            name=name, k0=keywords[0], k1=keywords[1], k2=keywords[2]
                        ),
                        category=category,
                        level=level,
                        tags=keywords,
                        prerequisites=previous,
                    )
                )
                previous = (course_id,)
    return courses


@dataclass(frozen=True)
class DemoData:
    courses: list[Course]
    interactions: list[Interaction]


def demo_data(
    seed: int = 42, learners: int = 3000, now: datetime | None = None, days: int = 120
) -> DemoData:
    """Learners with one or two favourite categories browse, enroll and complete along the chains."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC).replace(microsecond=0)
    courses = demo_courses()
    by_subject: dict[str, list[Course]] = {}
    for course in courses:
        by_subject.setdefault(course.course_id.rsplit("_", 1)[0], []).append(course)
    categories = list(CATALOG)
    # Some subjects are simply more popular than others (a long tail, as in every real catalog).
    appeal = {subject: rng.paretovariate(1.2) for subject in by_subject}
    events: list[Interaction] = []
    for n in range(1, learners + 1):
        user = UserId(f"user{n}")
        favourites = rng.sample(categories, rng.choice((1, 1, 2)))
        subjects = [s for s in by_subject if by_subject[s][0].category in favourites]
        others = [s for s in by_subject if s not in subjects]
        moment = now - timedelta(days=rng.uniform(0, days))
        journey: list[tuple[Course, EventType, datetime]] = []
        for _ in range(rng.randint(1, 6)):
            pool = subjects if rng.random() < 0.85 else others
            subject = rng.choices(pool, weights=[appeal[s] for s in pool])[0]
            for course in by_subject[subject]:
                moment += timedelta(hours=rng.uniform(1, 72))
                journey.append((course, EventType.VIEW, moment))
                if rng.random() < 0.6:
                    journey.append((course, EventType.CLICK, moment + timedelta(minutes=1)))
                if rng.random() > 0.55:
                    break
                moment += timedelta(minutes=5)
                journey.append((course, EventType.ENROLL, moment))
                if rng.random() > 0.7:
                    break
                moment += timedelta(days=rng.uniform(5, 30))
                journey.append((course, EventType.COMPLETE, moment))
        # A journey that would run past `now` happened earlier instead: moved back whole, so no
        # timestamps pile up on `now` (and no extra random draws change the other learners).
        last = max(when for _, _, when in journey)
        shift = last - now + timedelta(minutes=(n * 37) % 360) if last > now else timedelta(0)
        events += [
            _event(seed, user, step, course, kind, when - shift)
            for step, (course, kind, when) in enumerate(journey)
        ]
    events.sort(key=lambda e: (e.occurred_at, e.event_id))
    return DemoData(courses, events)


def _event(
    seed: int, user: UserId, step: int, course: Course, kind: EventType, moment: datetime
) -> Interaction:
    # Not the time: it follows the day of the run, and a second run must find the same ids.
    key = f"{seed}|{user}|{step}|{course.course_id}|{kind.value}"
    return Interaction(
        event_id="demo-" + hashlib.sha1(key.encode()).hexdigest()[:20],
        user_id=user,
        course_id=course.course_id,
        event_type=kind,
        occurred_at=moment,
    )
