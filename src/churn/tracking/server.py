"""A team MLflow tracking server: PostgreSQL backend store, local artifact root, loopback.

``python -m churn.tracking.server`` (``make mlflow-server``) starts, in the foreground:

1. a PostgreSQL cluster in ``--data-dir`` (created on first use with ``initdb``; trust
   authentication, listening on 127.0.0.1 only), with a database ``mlflow``;
2. ``mlflow server`` on 127.0.0.1 with that database as backend and registry store, and
   ``--artifacts-dir`` as the artifact root it serves.

Point the pipeline at it with ``tracking=server`` (``tracking.uri=http://127.0.0.1:5000``).
PostgreSQL refuses to run as root: as root, the cluster runs as the ``postgres`` user.
Needs PostgreSQL's server programs (Debian: ``apt-get install postgresql``) and the
``server`` extra (psycopg).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_USER = "mlflow"


def postgres_bin(name: str) -> str | None:
    """Path of a PostgreSQL server program (``initdb``, ``pg_ctl``), or ``None``."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(versions[-1]) if versions else None


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip() or done.stdout}")


def _as_postgres_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def start_postgres(data_dir: Path, port: int) -> None:
    """Create (first time) and start a PostgreSQL cluster on 127.0.0.1:``port`` with a
    database ``mlflow`` owned by user ``mlflow``."""
    initdb, pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL server programs not found: apt-get install postgresql")
    data_dir = data_dir.resolve()
    fresh = not (data_dir / "PG_VERSION").exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(data_dir, "postgres", "postgres")
        data_dir.chmod(0o700)
    if fresh:
        _run(
            _as_postgres_user(
                [initdb, "-D", str(data_dir), "-U", PG_USER, "--auth=trust", "-E", "UTF8"]
            )
        )
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {data_dir}"
    _run(
        _as_postgres_user(
            [pg_ctl, "-D", str(data_dir), "-o", options, "-l", str(data_dir / "log"), "-w", "start"]
        )
    )
    if fresh:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={port} user={PG_USER} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE mlflow")


def stop_postgres(data_dir: Path) -> None:
    """Stop the cluster in ``data_dir`` (fast shutdown)."""
    pg_ctl = postgres_bin("pg_ctl")
    subprocess.run(
        _as_postgres_user([str(pg_ctl), "-D", str(data_dir.resolve()), "-m", "fast", "stop"]),
        check=False,
        capture_output=True,
    )


def backend_uri(port: int) -> str:
    """SQLAlchemy URI of the ``mlflow`` database on 127.0.0.1:``port``."""
    return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/mlflow"


def server_command(pg_port: int, port: int, artifacts_dir: Path, workers: int = 2) -> list[str]:
    """The ``mlflow server`` command line, bound to 127.0.0.1."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend_uri(pg_port),
        "--artifacts-destination",
        str(artifacts_dir.resolve()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def wait_until_up(url: str, timeout_s: float = 90.0) -> None:
    """Poll ``<url>/health`` until the server answers (``TimeoutError`` otherwise)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"no MLflow server answering at {url} after {timeout_s:.0f} s")


@contextmanager
def running_server(data_dir: Path, artifacts_dir: Path, pg_port: int, port: int) -> Iterator[str]:
    """PostgreSQL and the MLflow server for the duration of a ``with`` block; yields the
    tracking URI. Used by the integration test."""
    start_postgres(data_dir, pg_port)
    process = subprocess.Popen(
        server_command(pg_port, port, artifacts_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        stop_postgres(data_dir)


def main(argv: list[str] | None = None) -> None:
    """Start PostgreSQL and the MLflow server in the foreground (Ctrl-C stops both)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data/postgres"))
    parser.add_argument("--artifacts-dir", type=Path, default=Path("mlartifacts-server"))
    parser.add_argument("--pg-port", type=int, default=5433)
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    start_postgres(args.data_dir, args.pg_port)
    print(f"PostgreSQL on 127.0.0.1:{args.pg_port}; MLflow on http://127.0.0.1:{args.port}")
    try:
        subprocess.run(server_command(args.pg_port, args.port, args.artifacts_dir), check=False)
    except KeyboardInterrupt:
        pass
    finally:
        stop_postgres(args.data_dir)


if __name__ == "__main__":
    main()
