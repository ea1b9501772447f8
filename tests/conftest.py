pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.app",
    "tests.fixtures.jobs",
    "tests.fixtures.s3",
]
