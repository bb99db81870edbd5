"""A model's config.json from the Hugging Face hub, failing fast without network.

huggingface_hub retries an unreachable hub for about 25 s (five back-offs). A user who typed a hub id
without network wants one line at once, so the fetch goes:
1. the local hub cache (``local_files_only``): works offline, no network touched;
2. offline (``HF_HUB_OFFLINE`` set, or the hub's host, or the proxy in front of it, refuses a TCP
   connection within ``PROBE_TIMEOUT_S``): fail with the line that says how to use a local file;
3. otherwise the ordinary download (the host answered, so retries are for real server trouble).
"""

from __future__ import annotations

import difflib
import socket
import urllib.parse
import urllib.request

from tokenomy.errors import CatalogError

PROBE_TIMEOUT_S = 1.0   # a hub that does not accept a TCP connection in 1 s is taken as unreachable
PIP_HINT = "pip install 'tokenomy[hub]'"


def local_file_hint(repo_id: str) -> str:
    """How to use the model without the hub: its config.json saved locally."""
    return (f"A local config.json always works: save https://huggingface.co/{repo_id}/raw/main/config.json "
            f"as ./{repo_id.split('/')[-1]}/config.json and pass --model ./{repo_id.split('/')[-1]}/config.json.")


def _not_fetched(repo_id: str, why: str, known: list[str]) -> CatalogError:
    close = difflib.get_close_matches(repo_id, known, n=3, cutoff=0.5)
    did_you_mean = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return CatalogError(f"Model {repo_id!r} is not in the catalog and its config.json could not be fetched "
                        f"from the Hugging Face hub ({why}).{did_you_mean} {local_file_hint(repo_id)}")


def _reachable(url: str, timeout_s: float) -> bool:
    """Whether the host of ``url`` (or the proxy for its scheme) accepts a TCP connection within ``timeout_s``."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    host = parts.hostname
    if not host:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def hub_config_path(repo_id: str, known: list[str]) -> str:
    """The local path of ``repo_id``'s config.json (cached or fetched), or a CatalogError in one line
    (suggesting the close names among ``known``)."""
    try:
        from huggingface_hub import constants, hf_hub_download
    except ImportError:
        raise _not_fetched(repo_id, f"huggingface_hub is not installed: {PIP_HINT}", known) from None
    try:
        return str(hf_hub_download(repo_id, "config.json", local_files_only=True))
    except Exception:  # not in the local cache (or a cache it cannot read): ask the hub below
        pass
    if constants.HF_HUB_OFFLINE:
        raise _not_fetched(repo_id, "offline: HF_HUB_OFFLINE is set and it is not in the local hub cache", known)
    if not _reachable(constants.ENDPOINT, PROBE_TIMEOUT_S):
        raise _not_fetched(repo_id, f"no network: {constants.ENDPOINT} cannot be reached", known)
    try:
        return str(hf_hub_download(repo_id, "config.json", etag_timeout=PROBE_TIMEOUT_S * 5))
    except Exception as e:  # unknown, private or gated repo, or the hub failing: all mean "pass a local file"
        why = f"{type(e).__name__}: check the id on huggingface.co and the network"
        raise _not_fetched(repo_id, why, known) from None
