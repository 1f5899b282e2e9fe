"""How the Bolt app is served: HTTP mode (Starlette + uvicorn), Socket Mode, the
sandbox, and the settings that pick one."""
