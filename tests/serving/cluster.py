"""A Ray cluster for the serving tests, started by the test session itself and kept on loopback,
and what the tests need to look at it: the sockets its processes listen on."""

from __future__ import annotations

import contextlib
import ipaddress
import os
from pathlib import Path


@contextlib.contextmanager
def local_cluster(num_cpus: int = 4):
    """Start Ray in this process (its node processes are this process's children, stopped with
    it), on 127.0.0.1 only, without the dashboard; yields the address other processes join."""
    from serving import loopback_environment

    loopback_environment()
    import ray

    ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=num_cpus, namespace="intact-tests",
             log_to_driver=False, logging_level="WARNING")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        from ray import serve

        with contextlib.suppress(Exception):
            serve.shutdown()
        ray.shutdown()


def descendants(pid: int) -> set[int]:
    """`pid` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        if p not in found:
            found.add(p)
            todo.extend(children.get(p, []))
    return found


def _address(hex_address: str) -> ipaddress._BaseAddress:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw[::-1])
    # IPv6 as four 32-bit words, each little-endian
    return ipaddress.IPv6Address(b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))


def listening_addresses(pids: set[int]) -> list[tuple[str, int, int]]:
    """(address, port, pid) of every TCP socket the processes listen on."""
    inodes: dict[str, int] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes[target[8:-1]] = pid
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as fh:
            next(fh)
            for line in fh:
                parts = line.split()
                local, state, inode = parts[1], parts[3], parts[9]
                if state == "0A" and inode in inodes:  # LISTEN
                    host, port = local.rsplit(":", 1)
                    found.append((str(_address(host)), int(port, 16), inodes[inode]))
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback
