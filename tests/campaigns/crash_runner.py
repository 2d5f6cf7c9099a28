"""Run one campaign's launch, plan and SMS wave to completion (the crash test kills and reruns it)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from helpers import NOON, demo_design

from tagcloud.campaigns.channels.smpp import SmppClient
from tagcloud.campaigns.execute import launch, plan_wave, run_sms_wave, split_target
from tagcloud.campaigns.policy import ContactLedger


def main(url: str, snapshot_dir: str, port: int, n: int) -> None:
    design = demo_design(waves=("sms",))
    ms = np.array([f"135{i:08d}" for i in range(1, n + 1)], dtype=object)
    subs = np.where(np.arange(n) % 2 == 0, "high", "low").astype(object)
    with ContactLedger(url) as led:
        path = launch(led, design, split_target(design, ms, subs), Path(snapshot_dir))
        from tagcloud.campaigns.execute import Target

        plan_wave(led, design, Target.load(path), 0)
        with SmppClient("127.0.0.1", port, window=8, rate=400) as c:
            run = run_sms_wave(led, design, c, 0, NOON)
        print(f"submitted={run.submitted} unknown_recovered={run.recovered_unknown}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
