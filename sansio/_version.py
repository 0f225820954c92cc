__title__ = "conch"
__description__ = "A fast HTTP client: a sans-I/O core with sync, asyncio and trio shells."
__version__ = "0.1.0"
