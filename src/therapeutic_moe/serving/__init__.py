"""HTTP serving: OpenAI-compatible API, metrics and the web chat page (`create_app`)."""


def __getattr__(name: str):
    if name == "create_app":
        from therapeutic_moe.serving.app import create_app

        return create_app
    if name == "ServeSettings":
        from therapeutic_moe.serving.settings import ServeSettings

        return ServeSettings
    raise AttributeError(f"module 'therapeutic_moe.serving' has no attribute {name!r}")
