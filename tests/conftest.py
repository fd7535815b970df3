pytest_plugins = [
    "tests.fixtures.apps",
    "tests.fixtures.users",
    "tests.fixtures.workers",
    "tests.fixtures.live",
    "tests.fixtures.media",
    "tests.fixtures.s3",
]
