"""``python -m editbench``: compose the config with Hydra, then :func:`editbench.run.run`."""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from editbench.config.resolvers import register_resolvers
from editbench.config.schema import register_schemas

register_schemas()
register_resolvers()
log = logging.getLogger("editbench")


@hydra.main(version_base="1.3", config_path="pkg://editbench.conf", config_name="config")
def main(cfg: DictConfig) -> None:
    # Imported here so that --help and config errors stay fast.
    from editbench.errors import EditbenchError, RunIncomplete
    from editbench.launch.pool import WorkerFailed
    from editbench.run import run

    runtime = HydraConfig.get().runtime
    try:
        run(cfg, runtime.output_dir, dict(runtime.choices))
    except EditbenchError as error:
        log.error("%s", error)
        print(f"editbench: error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
    except RunIncomplete as error:
        log.error("%s", error)
        print(
            f"editbench: the run is not a result: {error}\n"
            f"Its outputs are in {runtime.output_dir}.",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(1)
    except WorkerFailed as error:
        log.error("%s", error)
        print(
            f"editbench: {error}\nEverything finished before the failure is kept in the store;"
            " re-run the same command to resume.",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(1)
    except KeyboardInterrupt:
        print(
            "editbench: interrupted; finished work is kept in the store, re-run to resume.",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(130)


if __name__ == "__main__":
    main()
