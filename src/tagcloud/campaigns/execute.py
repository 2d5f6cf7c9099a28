"""Campaign execution: snapshot the target, hold out the control group, plan each wave under the
contact policy, and hand contacts to channels (SMS over SMPP, call-centre lists, touchpoints).

Every step is idempotent, so a run that was killed is simply run again: the target is a snapshot
file written once; a wave's list is decided in atomic transactions keyed by (campaign, wave,
subscriber, channel); SMS are claimed before they are sent and never claimed twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tagcloud.campaigns.design import CampaignDesign, render
from tagcloud.campaigns.policy import (
    TOUCHPOINT_CHANNELS,
    Channel,
    ContactLedger,
    ContactStatus,
    Decision,
    ResponseOutcome,
    SmscRecord,
    epoch,
    from_epoch,
)
from tagcloud.progress import job

if TYPE_CHECKING:
    from tagcloud.audience.query import AudienceEngine
    from tagcloud.campaigns.channels.smpp import SmppClient, SmsRun

Fields = Callable[[str], dict[str, Any]]  # msisdn → personal fields for scripts


@dataclass
class Target:
    """The campaign's audience as snapshotted at launch: number, sub-campaign, control flag."""

    msisdn: np.ndarray  # str
    sub_campaign: np.ndarray  # str
    control: np.ndarray  # bool

    def __post_init__(self) -> None:
        if not (len(self.msisdn) == len(self.sub_campaign) == len(self.control)):
            raise ValueError("target: msisdn, sub_campaign and control differ in length")
        nums = np.sort(_as_numbers(self.msisdn))  # integers sort far faster than text (or a hash)
        if len(nums) > 1 and bool((nums[1:] == nums[:-1]).any()):
            raise ValueError("target: a subscriber appears twice (each belongs to one sub-campaign)")

    def __len__(self) -> int:
        return len(self.msisdn)

    def save(self, path: Path) -> None:
        """Write once, atomically: a resumed run reads the same snapshot."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        tmp = path.with_suffix(".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.table(
                {
                    "msisdn": pa.array(self.msisdn.astype(str), pa.string()),
                    "sub_campaign": pa.array(self.sub_campaign.astype(str), pa.string()),
                    "control": pa.array(self.control.astype(bool)),
                }
            ),
            tmp,
        )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Target:
        import pyarrow.parquet as pq

        t = pq.read_table(path)
        return cls(
            np.asarray(t["msisdn"].to_numpy(zero_copy_only=False), dtype=object),
            np.asarray(t["sub_campaign"].to_numpy(zero_copy_only=False), dtype=object),
            t["control"].to_numpy(zero_copy_only=False).astype(bool),
        )


def split_target(
    design: CampaignDesign, msisdn: np.ndarray, sub_campaign: np.ndarray, seed: int = 0
) -> Target:
    """Hold out ``control_share`` of every sub-campaign, reproducibly (a hash of number and seed)."""
    msisdn = np.asarray(msisdn, dtype=object)
    sub_campaign = np.asarray(sub_campaign, dtype=object)
    score = _score(msisdn, f"{design.campaign_id}:{seed}")
    control = np.zeros(len(msisdn), dtype=bool)
    for s in sorted(set(sub_campaign.tolist())):  # a hash of a few names, not a sort of a million strings
        idx = np.flatnonzero(sub_campaign == s)
        k = int(np.floor(len(idx) * design.control_share + 0.5))
        control[idx[np.argsort(score[idx], kind="stable")[:k]]] = True
    return Target(msisdn, sub_campaign, control)


def _as_numbers(msisdn: np.ndarray) -> np.ndarray:
    """Mobile numbers as unsigned integers (all digits, 11 long), for sorting and hashing."""
    if not len(msisdn):
        return np.zeros(0, np.uint64)
    try:
        return np.asarray(msisdn).astype(str).astype(np.uint64)
    except ValueError as e:
        raise ValueError(f"target: a number is not all digits ({e})") from None


def _score(msisdn: np.ndarray, salt: str) -> np.ndarray:
    """A uniform, reproducible number per subscriber (splitmix64 of the number and a salt)."""
    nums = _as_numbers(msisdn)
    with np.errstate(over="ignore"):
        z = nums + np.uint64(abs(hash_text(salt)))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def hash_text(text: str) -> int:
    h = 1469598103934665603
    for b in text.encode():
        h = ((h ^ b) * 1099511628211) & 0x7FFFFFFFFFFFFFFF
    return h


def target_from_audience(engine: AudienceEngine, design: CampaignDesign) -> Target:
    """Snapshot the target through the audience engine: sub-campaign tiers, then the control group.

    A subscriber in several tiers goes to the first sub-campaign that matches. The control group
    comes from the audience engine (stratified, never overlapping another campaign's holdout).
    """
    from pyroaring import BitMap

    from tagcloud.audience.groups import control_group, group_members

    taken = BitMap()
    ids_parts, sub_parts = [], []
    for s in design.sub_campaigns:
        cond = f"({design.target}) AND ({s.condition})" if s.condition else design.target
        bm = engine.members(cond) - taken
        taken |= bm
        ids = np.frombuffer(bm.to_array(), dtype=np.uint32)
        ids_parts.append(ids)
        sub_parts.append(np.full(len(ids), s.name, dtype=object))
    ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, np.uint32)
    subs = np.concatenate(sub_parts) if sub_parts else np.zeros(0, object)
    held = np.zeros(len(ids), dtype=bool)
    if design.control_share > 0 and len(ids):
        control_group(engine, design.campaign_id, design.target, design.control_share, overwrite=True)
        control = group_members(engine.warehouse, f"{design.campaign_id}.control", engine.index)
        action = group_members(engine.warehouse, f"{design.campaign_id}.action", engine.index)
        ctl = np.frombuffer(control.to_array(), dtype=np.uint32)
        act = np.frombuffer(action.to_array(), dtype=np.uint32)
        held = np.isin(ids, ctl)
        keep = held | np.isin(ids, act)  # another campaign's holdout is in neither: leave it out
        ids, subs, held = ids[keep], subs[keep], held[keep]
    numbers = (
        np.asarray(engine.index.dictionary.msisdn_by_id[ids]).astype(np.int64).astype(str).astype(object)
    )
    return Target(numbers, subs, held)


def launch(ledger: ContactLedger, design: CampaignDesign, target: Target, snapshot_dir: Path) -> Path:
    """Keep the target snapshot (once) and record the control group with the offers it would get."""
    path = snapshot_dir / f"{design.campaign_id}.target.parquet"
    if not path.exists():
        target.save(path)
    target = Target.load(path)
    offer = {s.name: s.offer_id for s in design.sub_campaigns}
    ctl = np.flatnonzero(target.control)
    ledger.record_control(
        design.campaign_id,
        list(target.msisdn[ctl]),
        [offer[s] for s in target.sub_campaign[ctl]],
        design.waves[0].channel.value,
        design.start,
        sub_campaigns=list(target.sub_campaign[ctl]),
    )
    return path


def plan_wave(ledger: ContactLedger, design: CampaignDesign, target: Target, wave: int) -> dict[str, int]:
    """Decide a wave's contact list under the policy; return decision → count.

    A channel with a daily capacity (the call centre) gets its list spread over consecutive days,
    ``capacity`` a day, in a reproducible random order; later waves skip responders.
    """
    w = design.waves[wave]
    at = design.wave_time(wave)
    offer = {s.name: s.offer_id for s in design.sub_campaigns}
    act = ~target.control
    ms, subs = target.msisdn[act], target.sub_campaign[act]
    counts: dict[str, int] = {}
    if wave > 0 and w.only_non_responders:
        done = ledger.responders(design.campaign_id)
        if done:
            skip = np.isin(ms, np.array(sorted(done), dtype=object))
            ledger.record_exclusions(
                design.campaign_id, wave, w.channel.value, list(ms[skip]),
                [offer[s] for s in subs[skip]], Decision.NOT_IN_WAVE, at,
            )  # fmt: skip
            counts[Decision.NOT_IN_WAVE.value] = int(skip.sum())
            ms, subs = ms[~skip], subs[~skip]
    per_day = design.capacity.get(w.channel.value) or max(len(ms), 1)
    order = np.argsort(_score(ms, f"{design.campaign_id}:wave{wave}"), kind="stable")
    ms, subs = ms[order], subs[order]
    for day, lo in enumerate(range(0, len(ms), per_day)):
        chunk_m, chunk_s = ms[lo : lo + per_day], subs[lo : lo + per_day]
        got = ledger.reserve_list(
            [design.campaign_id] * len(chunk_m),
            list(chunk_m),
            _offers_of(chunk_s, offer),
            [design.priority] * len(chunk_m),
            w.channel.value,
            at + dt.timedelta(days=day),
            wave=wave,
            sub_campaigns=list(chunk_s),
        )
        for k, v in got.items():
            counts[k] = counts.get(k, 0) + v
    return counts


def _offers_of(sub_campaigns: np.ndarray, offer: dict[str, str]) -> list[str | None]:
    """Each member's offer, by sub-campaign: one comparison per sub-campaign, not a loop per member."""
    out = np.full(len(sub_campaigns), None, dtype=object)
    for name, o in offer.items():
        out[sub_campaigns == name] = o
    return list(out.tolist())


def default_fields(msisdn: str) -> dict[str, Any]:
    return {"msisdn_tail": msisdn[-4:]}


def run_sms_wave(
    ledger: ContactLedger,
    design: CampaignDesign,
    client: SmppClient,
    wave: int,
    now: dt.datetime,
    fields: Fields = default_fields,
    batch: int | None = None,
    quiet: bool = True,
    smsc_records: Callable[[], Iterable[SmscRecord]] | None = None,
) -> SmsRun:
    """Send a wave's due SMS through a bound SMPP client; statuses and receipts go to the ledger.
    ``smsc_records`` settles what a killed earlier pass left UNKNOWN (see ``send_wave``)."""
    from tagcloud.campaigns.channels.smpp import send_wave

    if design.waves[wave].channel != Channel.SMS:
        raise ValueError(
            f"wave {wave} of {design.campaign_id} is {design.waves[wave].channel.value}, not sms"
        )
    client.source_addr = design.sender
    scripts = {s.name: s.scripts[Channel.SMS.value] for s in design.sub_campaigns}
    total = ledger.db.q(
        "SELECT count(*) FROM contacts WHERE campaign_id=? AND wave=? AND channel='sms' AND status='reserved'",
        (design.campaign_id, wave),
    )[0][0]
    with job(f"SMS {design.campaign_id} wave {wave}", total=total, unit="SMS", quiet=quiet) as j:
        run = send_wave(
            ledger,
            client,
            design.campaign_id,
            wave,
            lambda m, o, s: render(scripts[s or design.sub_campaigns[0].name], fields(m)),
            now=now,
            batch=batch,
            on_batch=lambda n: j.advance(n, rows=n),
            smsc_records=smsc_records,
        )
    return run


CALL_LIST_COLUMNS = ("contact_id", "campaign_id", "wave", "msisdn", "sub_campaign", "offer_id", "script")
CALL_RESULTS = {
    # call-centre result → (contact status, response outcome or None)
    "accepted": (ContactStatus.DELIVERED, ResponseOutcome.ACCEPTED),
    "refused": (ContactStatus.DELIVERED, ResponseOutcome.REFUSED),
    "considering": (ContactStatus.DELIVERED, ResponseOutcome.CONSIDERING),
    "no_answer": (ContactStatus.FAILED, None),
    "busy": (ContactStatus.FAILED, None),
    "wrong_number": (ContactStatus.FAILED, None),
}


def export_call_list(
    ledger: ContactLedger,
    design: CampaignDesign,
    wave: int,
    path: Path,
    now: dt.datetime,
    fields: Fields = default_fields,
) -> int:
    """Write the due outbound-call contacts as a CSV call list (外呼清单); return how many.

    Contacts are claimed, the file is written atomically, then they are marked submitted.
    """
    if design.waves[wave].channel != Channel.OUTBOUND:
        raise ValueError(f"wave {wave} of {design.campaign_id} is not an outbound-call wave")
    ledger.recover(design.campaign_id, wave, Channel.OUTBOUND.value, now)
    limit = design.capacity.get(Channel.OUTBOUND.value) or 10**9
    rows = ledger.claim_due(design.campaign_id, wave, Channel.OUTBOUND.value, now, limit)
    scripts = {s.name: s.scripts[Channel.OUTBOUND.value] for s in design.sub_campaigns}
    tmp = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CALL_LIST_COLUMNS)
        for cid, m, offer, sub in rows:
            w.writerow((cid, design.campaign_id, wave, m, sub, offer, render(scripts[sub], fields(m))))
    os.replace(tmp, path)
    ledger.set_status(
        [(int(r[0]), ContactStatus.SUBMITTED.value, None) for r in rows],
        now,
        only_from=[ContactStatus.SUBMITTING],
    )
    return len(rows)


def import_call_results(ledger: ContactLedger, path: Path, at: dt.datetime) -> dict[str, int]:
    """Read the call centre's results (contact_id, result[, called_at, note]); return result → count.

    Results: accepted, refused, considering, no_answer, busy, wrong_number. An acceptance stops
    the offer in every channel.
    """
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"contact_id", "result"} <= set(rows[0]):
        raise ValueError(f"{path}: call results need columns contact_id and result, found {sorted(rows[0])}")
    ids = []
    for n, r in enumerate(rows, start=2):
        if r["result"] not in CALL_RESULTS:
            raise ValueError(
                f"{path} line {n}: unknown call result {r['result']!r}; known: {', '.join(CALL_RESULTS)}"
            )
        if not r["contact_id"].isdigit():
            raise ValueError(f"{path} line {n}: contact_id {r['contact_id']!r} is not a number")
        ids.append(int(r["contact_id"]))
    known = {
        int(x[0]): x[1:]
        for x in ledger.db.q(
            "SELECT contact_id, msisdn, offer_id, campaign_id FROM contacts WHERE channel='outbound' AND contact_id IN ("
            + ",".join(str(i) for i in ids or [-1])
            + ")"
        )
    }
    missing = [i for i in ids if i not in known]
    if missing:
        raise ValueError(f"{path}: contact ids not in the ledger as outbound calls: {missing[:5]}")
    counts: dict[str, int] = {}
    ledger.set_status(
        [(i, CALL_RESULTS[r["result"]][0].value, None) for i, r in zip(ids, rows, strict=True)],
        at,
        only_from=[ContactStatus.SUBMITTED, ContactStatus.UNKNOWN],
    )
    for i, r in zip(ids, rows, strict=True):
        counts[r["result"]] = counts.get(r["result"], 0) + 1
        outcome = CALL_RESULTS[r["result"]][1]
        if outcome is not None:
            m, offer, camp = known[i]
            when = dt.datetime.fromisoformat(r["called_at"]) if r.get("called_at") else at
            ledger.record_response(
                m, offer, "outbound", outcome, when, campaign_id=camp, contact_id=i, note=r.get("note")
            )
    return counts


# ---- touchpoints (10086, hall, web hall, self-service terminal) -------------------------------


def touchpoint_offers(
    ledger: ContactLedger,
    designs: dict[str, CampaignDesign],
    msisdn: str,
    channel: str,
    now: dt.datetime,
    fields: Fields = default_fields,
) -> dict[str, Any]:
    """What an agent sees when the subscriber arrives: eligible offers with scripts, and history.

    Eligible: the subscriber's pending touchpoint contacts (any touchpoint channel: the shared
    contact memory) whose offer was not accepted and whose campaign is known, highest priority first.
    """
    if Channel(channel) not in TOUCHPOINT_CHANNELS:
        raise ValueError(f"{channel!r} is not a touchpoint channel: {', '.join(sorted(TOUCHPOINT_CHANNELS))}")
    rows = ledger.db.q(
        "SELECT c.contact_id, c.campaign_id, c.sub_campaign, c.offer_id, c.priority, c.channel FROM contacts c "
        "WHERE c.msisdn=? AND c.status='reserved' AND c.contact_at <= ? AND c.channel IN ("
        + ",".join(f"'{c.value}'" for c in sorted(TOUCHPOINT_CHANNELS))
        + ") AND NOT EXISTS (SELECT 1 FROM acceptances a WHERE a.msisdn=c.msisdn AND a.offer_id=c.offer_id) "
        "ORDER BY c.priority DESC, c.contact_id",
        (msisdn, epoch(now)),
    )
    offers, seen = [], set()
    for cid, camp, sub, offer, prio, ch in rows:
        d = designs.get(camp)
        if d is None or offer in seen:
            continue
        seen.add(offer)
        s = d.sub(sub)
        script = s.scripts.get(channel) or s.scripts.get(ch) or ""
        offers.append(
            {
                "contact_id": cid,
                "campaign_id": camp,
                "campaign": d.name,
                "offer_id": offer,
                "priority": prio,
                "script": render(script, fields(msisdn)),
            }
        )
    history = [
        {**h, "at": h["at"].isoformat(sep=" ", timespec="minutes"), "ago": _ago(now - h["at"])}
        for h in ledger.history(msisdn)
    ]
    return {"msisdn": msisdn, "channel": channel, "offers": offers, "history": history}


def _ago(d: dt.timedelta) -> str:
    if d.days >= 2:
        return f"{d.days} days ago"
    if d.days == 1:
        return "yesterday"
    return "today" if d.total_seconds() >= 0 else "scheduled"


def touchpoint_feedback(
    ledger: ContactLedger,
    contact_id: int,
    channel: str,
    outcome: str,
    at: dt.datetime,
    note: str | None = None,
) -> None:
    """An agent's feedback on an offer shown at a touchpoint: considering, accepted or refused."""
    row = ledger.db.q(
        "SELECT msisdn, offer_id, campaign_id, status FROM contacts WHERE contact_id=?", (contact_id,)
    )
    if not row:
        raise KeyError(f"touchpoint feedback: no contact {contact_id}")
    m, offer, camp, _ = row[0]
    ledger.set_status(
        [(contact_id, ContactStatus.DELIVERED.value, None)], at, only_from=[ContactStatus.RESERVED]
    )
    ledger.record_response(
        m, offer, channel, ResponseOutcome(outcome), at, campaign_id=camp, contact_id=contact_id, note=note
    )


def record_responses(
    ledger: ContactLedger,
    responses: Iterable[tuple[str, str, str | None, str, str, dt.datetime]],
) -> int:
    """Bulk responses (campaign_id, msisdn, offer_id, channel, outcome, at), e.g. from the simulator."""
    n = 0
    for camp, m, offer, ch, outcome, at in responses:
        ledger.record_response(m, offer, ch, outcome, at, campaign_id=camp)
        n += 1
    return n


def wave_status(ledger: ContactLedger, campaign_id: str) -> list[dict[str, Any]]:
    """Contacts by wave, channel and status, plus exclusions by reason: the execution dashboard."""
    out = [
        {"wave": w, "channel": ch, "what": st, "count": n}
        for w, ch, st, n in ledger.db.q(
            "SELECT wave, channel, status, count(*) FROM contacts WHERE campaign_id=? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            (campaign_id,),
        )
    ]
    out += [
        {"wave": w, "channel": ch, "what": f"excluded:{r}", "count": n}
        for w, ch, r, n in ledger.db.q(
            "SELECT wave, channel, reason, count(*) FROM exclusions WHERE campaign_id=? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            (campaign_id,),
        )
    ]
    return out


__all__ = [
    "RunOutcome",
    "Target",
    "export_call_list",
    "from_epoch",
    "import_call_results",
    "launch",
    "plan_wave",
    "run_due",
    "run_sms_wave",
    "split_target",
    "target_from_audience",
    "touchpoint_feedback",
    "touchpoint_offers",
]


@dataclass
class RunOutcome:
    """What one pass of ``run_due`` did, wave by wave."""

    planned: dict[int, dict[str, int]]
    sms: dict[int, SmsRun]
    call_lists: dict[int, tuple[Path, int]]


def run_due(
    ledger: ContactLedger,
    design: CampaignDesign,
    target: Target,
    snapshot_dir: Path,
    now: dt.datetime,
    smsc: tuple[str, int] | None = None,
    call_dir: Path | None = None,
    fields: Fields = default_fields,
    sms_rate: float = 100.0,
    sms_window: int = 10,
) -> RunOutcome:
    """One scheduler pass: launch (once), plan every wave whose time has come, and hand its due
    contacts to channels (SMS over SMPP at the SMSC's contracted ``sms_rate`` and ``sms_window``,
    a call list file per wave and day; touchpoints pull).
    Run it again at any time — after a crash too: every step is idempotent.
    """
    from tagcloud.campaigns.channels.smpp import SmppClient

    path = launch(ledger, design, target, snapshot_dir)
    target = Target.load(path)
    out = RunOutcome({}, {}, {})
    for i, w in enumerate(design.waves):
        if design.wave_time(i) > now:
            break
        out.planned[i] = plan_wave(ledger, design, target, i)
        if w.channel == Channel.SMS and smsc is not None:
            with SmppClient(smsc[0], smsc[1], rate=sms_rate, window=sms_window) as client:
                out.sms[i] = run_sms_wave(ledger, design, client, i, now, fields=fields, quiet=False)
        elif w.channel == Channel.OUTBOUND and call_dir is not None:
            p = call_dir / f"{design.campaign_id}-wave{i}-{now:%Y%m%d}.csv"
            out.call_lists[i] = (p, export_call_list(ledger, design, i, p, now, fields))
    return out
