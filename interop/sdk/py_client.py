"""The Python MCP SDK's own OAuth client, as an application would use it: an
OAuthClientProvider (an httpx auth) on the SDK's streamable HTTP transport, dynamic client
registration, PKCE, and a loopback redirect listener on a port the system hands out.

Usage: python py_client.py MCP_SERVER_URL

The "browser" is the test that runs this script: the redirect handler prints `AUTHORIZE <url>` on
stdout, the test signs in on the server's real login and consent pages and follows the final
redirect to this script's listener. The SDK then redeems the code and sends the refused request
again by itself; the script lists the tools, calls `echo`, and prints `RESULT <json>`. Any failure
prints `FAILED <message>` and exits 1; it gives up after DEADLINE seconds.
"""

import asyncio
import json
import sys
import traceback
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

DEADLINE = 60.0


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class MemoryStorage:
    """The SDK's TokenStorage protocol, in memory; counts registrations."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None
        self.registrations = 0

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.registrations += 1
        self.client = client_info


class Listener:
    """A one-shot loopback HTTP listener for the authorization response."""

    def __init__(self) -> None:
        self.response: asyncio.Future[AuthorizationCodeResult] = (
            asyncio.get_running_loop().create_future()
        )
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/callback"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode("latin-1")
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass
        parts = request_line.split(" ")
        target = urlsplit(parts[1]) if len(parts) >= 2 else urlsplit("/")
        query = {k: v[0] for k, v in parse_qs(target.query).items()}
        ok = target.path == "/callback" and "code" in query
        body = b"Signed in; you may close this tab." if ok else b"Bad authorization response."
        status = b"200 OK" if ok else b"400 Bad Request"
        writer.write(
            b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
        )
        await writer.drain()
        writer.close()
        if ok and not self.response.done():
            self.response.set_result(
                AuthorizationCodeResult(
                    code=query["code"], state=query.get("state"), iss=query.get("iss")
                )
            )

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def run(server_url: str) -> dict:
    listener = Listener()
    redirect_uri = await listener.start()
    storage = MemoryStorage()
    authorizations = 0

    async def redirect_handler(authorization_url: str) -> None:
        nonlocal authorizations
        authorizations += 1
        emit(f"AUTHORIZE {authorization_url}")

    async def callback_handler() -> AuthorizationCodeResult:
        return await listener.response

    provider = OAuthClientProvider(
        server_url=server_url,
        client_metadata=OAuthClientMetadata(
            client_name="Python SDK interop test",
            redirect_uris=[redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    try:
        async with httpx2.AsyncClient(auth=provider, timeout=30.0) as http:
            transport = streamable_http_client(server_url, http_client=http)
            # The initialize handshake (2025-11-25): this SDK's 2026-07-28 mode expects result
            # fields (`resultType`) that the demo's rmcp server does not send yet.
            async with Client(transport, mode="legacy") as client:
                tools = await client.list_tools()
                echo = await client.call_tool(
                    "echo", {"message": "hello from the Python SDK"}
                )
                text = next(
                    (c.text for c in echo.content if getattr(c, "type", None) == "text"),
                    None,
                )
                return {
                    "tools": [t.name for t in tools.tools],
                    "echo": text,
                    "isError": bool(echo.is_error),
                    "registrations": storage.registrations,
                    "authorizations": authorizations,
                    "scope": storage.tokens.scope if storage.tokens else None,
                    "protocol": client.protocol_version,
                }
    finally:
        listener.close()


def main() -> None:
    try:
        result = asyncio.run(asyncio.wait_for(run(sys.argv[1]), DEADLINE))
    except TimeoutError:
        emit(f"FAILED no result within {DEADLINE} s")
        sys.exit(1)
    except BaseException:  # noqa: BLE001 - the whole story goes to the test's log
        emit("FAILED " + traceback.format_exc().replace("\n", " | "))
        sys.exit(1)
    emit("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
