"""The labelled triage corpus: tickets written by independent writers (tests/triage/corpus/<writer>/).

Each writer was briefed only with the category definitions quoted from the seeds and a
style brief (corpus/<writer>/BRIEF.md, exactly as each writer received it); none saw the
rules, the model or another writer's text.
`ana`, `ben` and `chloe` are the rotation (fit on two, score on the third); `dara`,
`hana` and `lea` are the development writers (thresholds are chosen on them, never on a rotation
writer); dara also fills the sandbox's history for `triage learn`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tierlift.engine.triage import CATEGORIES

HERE = Path(__file__).resolve().parent / "corpus"
ROTATION = ("ana", "ben", "chloe")
DEV = "dara"
# A second development writer (long emails that open with background, a realistic mix of
# roles): thresholds are chosen on dara and hana together, never on a rotation writer.
DEV2 = "hana"
# A third (lea) writes follow-ups: a customer's later message on an open ticket, read on its
# own as the daemon reads each follow-up (engine/conditions.py TicketView.verdict).
# The follow-up writers wrote a `Re:` subject for context; it is kept as `reply_to` and not
# read (subject empty), since the daemon reads a follow-up's body alone.
DEV3 = "lea"
DEVS = (DEV, DEV2, DEV3)
# Training only, never scored: the category definitions restated in five languages; a
# fifth writer briefed for more near misses (account admin, legal paperwork, billing
# questions, slowdowns that are not outages) after the support floor showed such tickets
# read as incidents; a sixth (fay: IT staff of larger companies, forwarded threads and web
# forms, half near misses) for more varied training text. None saw the floor's wording
# (sandbox/floor_wording/, a held-out writer never used here). A seventh (ivy) writes the
# urgent tickets that are easy to miss: serious facts stated calmly, without alarm words,
# often by someone writing for a customer, in six languages (Italian and Dutch new).
# Two more for training (2026-12-04): kai writes follow-ups (chases, thanks, new facts, a
# customer's own internal escalation, a change of mood), max frustrated customers' first
# messages (blunt, short or ranting; data lost in many ways; managers and leaving asked for
# in many words). Both briefed with the definitions only, after the floor's full runs showed
# follow-ups and blunt requests read wrong; neither saw the floor's wording.
# oscar (2026-12-04, after the fresh writer noor showed understated security reports read
# unsure): urgent facts told calmly by people who do not work in IT (receptionists, shop
# owners, clinic schedulers), most of them security, data loss and outages, a quarter of the
# non-English ones in Polish, which no writer had written. Briefed like noor with the
# definitions only; never saw noor's text.
# rhea (2026-12-04, evening, after the fresh writers showed security and outages told flatly
# escalated outright too rarely): matter-of-fact people who understate (office IT
# generalists, developers on the API, finance controllers), hedged short reports, pasted log
# lines, the fact in a forwarded email; a quarter not in English, German and Polish the most.
# tove (2026-12-04, night, after the fresh writers showed churn and manager requests said in
# passing read unsure): account-level people at mid-sized and large customers writing
# business emails with several topics and the one that matters said politely or as a
# condition; churn and manager the most, near misses of renewals, competitors named only to
# ask for a feature, "escalation" as a product setting. Briefed with the definitions only.
# vera and wim (2026-12-05, after the fresh writers showed security read unsure most often and
# the full floor showed follow-ups asking for someone higher up read in the review band):
# vera, people outside IT describing what they saw wrong with their account or data, not
# what it is called (security and data loss the most, near misses in their vocabulary);
# wim, follow-ups on an open thread about something else (managers and churn asked for in
# many words; chases, thanks, routine requests as near misses; the thread's subject kept as
# `reply_to`, not read). Briefed at the same time with the definitions only, apart.
# gus and jade (2026-12-05, morning, after the full floor showed a request for someone higher up
# without the word manager read as churn, and churn read in the review band more than any
# other category): gus, people in regulated or record-keeping trades (clinics, law firms,
# schools, dispatchers, town halls) telling what happened in their trade's words, every
# category; jade, the people who own the vendor relationship (churn said as business facts,
# someone higher up asked for mostly without the words manager or supervisor). Briefed at the
# same time as the fresh writer zeb, with the definitions only, apart.
# lio (2026-12-05, morning, after the rotation's and a fresh writer's near misses escalated
# over 2% with gus and jade's refit): half near misses, spread over every category's
# vocabulary and made hard (serious words, even urgent tone), by a broad mix of companies and
# roles, and the real instances told calmly in the middle of ordinary business. Briefed with
# the definitions only, at the same time as the fresh writer nell and apart from it.
# quin (2026-12-05, evening, after the rotation's teamflow near misses escalated stayed over 2%,
# the most of them in long formal emails about changes in the business read as churn or an
# incident): long, formal letters from senior people at larger customers (directors,
# procurement and vendor management, finance, a general counsel's office, executive
# assistants) about the business of the relationship; 160 near misses of grave vocabulary and
# weighty change, the real instances told in the same measured register. Briefed with the
# definitions only, at the same time as the fresh writer ruth and apart from it.
# ida (2026-12-06, morning, after three QA sessions met "I did not receive the password reset
# email" and "Locked myself out" asked about as security incidents, or escalated): ordinary
# users and office staff, mostly short messages, 150 near misses about everyday sign-in and
# account trouble (reset emails, lockouts, two-factor devices, single sign-on, invitations),
# and real security incidents and sign-in outages told in the same account words. Briefed
# with the definitions only, at the same time as the fresh writer otto and apart from it.
# jon and kit (2026-12-06, noon, after the full floor's late tickets were data-loss reports and
# requests for someone higher up read in the review band, and a fresh writer's urgent tickets
# were escalated outright under 85%): jon, operations and finance staff telling data that
# vanished, was overwritten or corrupted the way they noticed it (and near misses of hidden,
# filtered, moved or archived things, backups and retention questions); kit, account owners and
# team leads asking for someone higher up or signalling they may leave in many words (near
# misses of manager roles, approvers, planned downgrades). Briefed at the same time with the
# definitions only, apart from each other; neither saw the floor's wording.
# lou (2026-12-06, afternoon, after a QA session's "Our site is down." read as nothing and
# "Our website is down, visitors get a blank page." only sent to review): every category, all
# of it short and blunt (a subject and a line or two, typed fast under stress), most of it
# outages, security and data loss and near misses in the same words; briefed at the same time
# as the fresh writer mae and apart from it.
# tess (2026-12-06, evening, after "Our site is down.", "Website down" and "Production is down,
# nothing works." were read as nothing by both packs, and the shipped model, never fitted on
# tess, escalated 25 of tess's 45 outages outright): terse tickets, the whole ticket 1 to 12
# words (a third of them a subject alone), every category and near misses in the same words,
# one in six in Spanish, German, French or Portuguese; briefed at the same time as the fresh
# writer finn and apart from it.
# wren (2026-12-06, evening, after tess's refit read "Password reset / I did not receive the
# password reset email" as a security incident at 0.68 (0.59 before, read flattened), where a
# QA session had met it): everyday trouble signing in told by ordinary users, 120 near misses
# (reset emails that never came, expired links, lockouts, new phones, SSO settings), and real
# account incidents in the same words; half of it short. Briefed with the definitions only.
# nia and sol (2026-12-07, after the three terse fresh writers' urgent tickets were escalated
# outright 64-80% and what they missed was the thing that broke named in a few words): terse
# tickets (1 to 12 words, a third a subject alone), every category and near misses in the
# same words; nia, technical people naming the exact part that broke (a job, a queue, a feed,
# a file drop, a wiki, an error string) and technical near misses; sol, people outside IT
# telling what they see on the screen, a quarter not in English. Briefed at the same time
# with the definitions only, apart from each other. nia's brief named kinds of parts, two of
# which (a file drop, a wiki) three missed fresh tickets name; none of the three changed
# outcome (docs/triage.md).
# rio (2026-12-07, after nia and sol's refit paged on-call on the full floor for a customer's
# reply saying an outage was over, its subject still naming the outage): replies in a thread
# whose subject names a problem, 110 near misses where it is over or was never theirs (it
# works again, a false alarm, their own firewall, thanks, the incident report asked for after) and
# the real instances in the same threads (still down, down again, worse). Briefed with the
# definitions only; never saw the floor's wording.
EXTRA = ("definitions", "eve", "fay", "gus", "ida", "ivy", "jade", "jon", "kai", "kit", "lio", "lou", "max", "nia",
         "oscar", "quin", "rhea", "rio", "sol", "tess", "tove", "vera", "wim", "wren")
URGENT = ("outage", "security", "data_loss", "legal", "gdpr_erasure")
# Fresh writers (tests/triage/fresh/<writer>/, outside the corpus: never fitted on, never
# used to choose a threshold): briefed after the thresholds were fixed, with the
# definitions only, and scored once with the shipped model as it ships
# (`evaluate.py --fresh`). noor (2026-12-04): urgent facts as people who are not
# support-savvy tell them (office managers, small-firm IT, accountants), most of them
# security, data loss and outages, and their near misses. pia (2026-12-04): every category,
# busy non-technical people at mid-sized firms, the urgent fact after small talk or in a
# colleague's pasted message; briefed at the same time as the training writer oscar and
# scored first with the model that did not have oscar.
FRESH_HERE = Path(__file__).resolve().parent / "fresh"
# sven (2026-12-04, evening): every category, people writing from a phone or in a second
# language (startup founders, shift leads, estate agents, freelancers reselling the
# product); briefed at the same time as the training writer rhea and scored first with the
# model that did not have rhea.
# uma (2026-12-04, night): every category, people writing on someone else's behalf (agency
# staff, virtual assistants, outsourced IT, resellers' desks), relaying what a client told
# them; briefed at the same time as the training writer tove and scored first with the model
# that did not have tove.
# yara (2026-12-05, past midnight): every category, technical people who use the product
# through its API (developers, SRE, data engineers) writing like bug reports; briefed after
# the refit with vera and wim was fixed and scored once with it as it ships.
# zeb (2026-12-05, morning): every category, people who run shops, restaurants, hotels,
# warehouses and online stores (many of them store managers or shift supervisors themselves),
# writing quickly between tasks; briefed at the same time as the training writers gus and
# jade and scored first with the model that did not have them.
# nell (2026-12-05, morning): every category, people in the public sector, education and
# non-profits writing long, polite, structured messages (or short flustered ones), forwarding
# a colleague's; briefed after the refit with gus and jade was fixed, at the same time as the
# training writer lio, and scored first with the model that did not have lio.
# ruth (2026-12-05, evening): every category and many near misses (140 of 300), the people who
# pay for and answer for the product inside their company (office and finance managers,
# account owners, team leads, a COO) mixing topics in a businesslike, personal voice; briefed
# at the same time as the training writer quin and apart from it, and scored first with the
# model that did not have quin.
# otto (2026-12-06, morning, after three QA sessions met everyday sign-in trouble ("I did not
# receive the password reset email") asked about as a security incident): people at small and
# mid-sized customers, mostly short, most of them near misses about passwords, reset emails,
# two-factor codes, single sign-on and lockouts, and real security incidents told in the same
# account words; briefed at the same time as the training writer ida and apart from it, and
# scored first with the model that did not have ida.
# mae (2026-12-06, afternoon, after a QA session's "Our site is down." was read as nothing and
# "Our website is down, visitors get a blank page." only sent to review): every category, all
# of it short and blunt (a subject and one or two lines), staff at shops, clinics, agencies,
# schools and logistics firms, most of it outages, security and data loss and their near
# misses; briefed at the same time as the training writer lou and apart from it, and scored
# first with the model that did not have lou.
# finn (2026-12-06, evening): terse tickets as tess's (1 to 12 words, a third of them a
# subject alone), people at small and large customers writing in a hurry; briefed at the
# same time as the training writer tess and apart from it, and scored first with the model
# that did not have tess (three-tier: outages 20 of 45 escalated outright, 37 with review).
# gale (2026-12-06, night): short tickets again (2 to 11 words, a third a subject alone),
# written as night-shift staff, dispatchers, bookkeepers and engineers type from a phone or a
# chat widget, near misses with urgent words in an ordinary sense; briefed after finn's and
# tess's figures were known, to score the thin-evidence review (a sure reading of a few words
# asks a person) on a writer nobody had looked at, before and after it.
# hugo (2026-12-06, night): short tickets (1 to 12 words; phone keyboards, pasted monitoring
# alerts, subject lines without a body), near misses of alarming idioms and paperwork; briefed
# while subjects fitted alone were chosen on tess and the rotation, and scored once before and
# once after (docs/triage.md).
# ash and bea (2026-12-07, morning): terse tickets again (1 to 14 words, a third a subject
# alone), every category and near misses in the same words; ash, what someone else said relayed
# from a phone ("client says ...", "fwd: ..."); bea, loud writers whose near misses sound as
# urgent as the real instances. Briefed as training writers, at the same time and apart from
# each other, with the definitions only (neither brief names a missed ticket or a kind of
# miss); scored first as fresh writers with the shipped model, then a refit with them was
# tried and not shipped (docs/triage.md), so they stay held out and widen the terse measure.
FRESH = ("noor", "pia", "sven", "uma", "yara", "zeb", "nell", "ruth", "otto", "mae", "finn", "gale", "hugo", "ash",
         "bea")
# The fresh writers of tickets of a dozen words or fewer. The outright target (85% of
# urgent tickets escalated without asking) is not met on them: a reading of a few words asks
# a person instead (docs/triage.md, "Short tickets"); tests/triage/test_accuracy.py holds them
# to their own measured bounds, and every other fresh writer to the targets.
TERSE = ("finn", "gale", "hugo", "ash", "bea")


class CorpusError(ValueError):
    """A corpus file that cannot be read as labelled tickets (its path and line are in the message)."""


@dataclass(frozen=True)
class Item:
    writer: str
    id: str
    subject: str
    body: str
    category: str
    near_miss: bool
    language: str
    amount: float | None
    currency: str | None

    @property
    def text(self) -> str:
        return f"{self.subject}\n{self.body}"

    @property
    def group(self) -> str:
        """What the item is measured as: its category, `refund_small`, `near_miss` or `none`."""
        if self.category == "refund" and self.near_miss:
            return "refund_small"
        if self.near_miss:
            return "near_miss"
        return self.category

    @property
    def label(self) -> str:
        """What a model is fitted to say: a small refund is still a refund (the amount decides)."""
        return self.category


def load_writer(name: str, root: Path = HERE) -> list[Item]:
    folder = root / name
    items: list[Item] = []
    for path in sorted(folder.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{path}:{n}: not JSON ({exc.msg})") from None
            if raw.get("category") not in CATEGORIES:
                raise CorpusError(f"{path}:{n}: category {raw.get('category')!r} is not one of {CATEGORIES}")
            items.append(Item(name, str(raw["id"]), str(raw.get("subject") or ""), str(raw.get("body") or ""),
                              raw["category"], bool(raw.get("near_miss")), str(raw.get("language") or "en"),
                              raw.get("amount"), raw.get("currency")))
    if not items:
        raise CorpusError(f"{folder}: no tickets (expected *.jsonl files)")
    return items


def writers(root: Path = HERE) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.jsonl")))
