"""The ASGI apps on one stack (starlette + uvicorn): the model scoring server and the web UI."""
