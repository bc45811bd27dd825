"""What customers write on the simulated floor: every kind the seeds name, in several wordings.

Each kind has wordings that quote the packs' phrases and wordings that do not
(the same meaning in other words), and near misses: texts that share words
with a kind but do not mean it (they must not escalate). The kind is the
floor's intent, kept beside the ticket in the sandbox (`Floor.intent`) for
the oracle; tierlift never sees it.

Invariant: a kind's name is what the oracle's requirement tables key on
(tests/floor/oracle.py); adding a kind means adding its requirement there.
"""

from __future__ import annotations

# kind -> [(subject, description)]
WORDINGS: dict[str, list[tuple[str, str]]] = {
    "security": [
        ("Possible data breach", "We noticed unauthorized access to several accounts last night. Possible data breach."),
        ("Someone got into our admin account", "An unknown person logged into our admin account from abroad and "
         "changed every password. We think we were hacked."),
        ("Strangers downloading our records", "Our API keys were used by a third party we do not know; they pulled "
         "customer records out of the workspace overnight."),
        ("Security vulnerability report", "I found a security vulnerability: any logged-in user can read other "
         "tenants' invoices by changing the id in the URL."),
    ],
    "outage": [
        ("API down for everyone", "Complete outage: the API is down and returns 503 for all our users."),
        ("Nothing loads", "Your whole platform has been unreachable for our company since 9am; nobody can sign in "
         "and every page times out."),
        ("Service disruption", "We are seeing a service disruption across all regions, the app will not load."),
        ("Everything returns errors", "Every request to your servers fails with a gateway error, for all of our "
         "2,000 staff. Is your system offline?"),
    ],
    "data_loss": [
        ("Data loss after sync", "After last night's sync months of project data are gone. This is data loss."),
        ("Our records vanished", "All the records we created this week disappeared from the workspace overnight."),
        ("Files are corrupted", "The attachments in our projects are now unreadable garbage; your update wiped the "
         "originals."),
    ],
    "legal": [
        ("Legal notice", "Our attorney has advised us to prepare a lawsuit over the lost contracts."),
        ("Formal notice", "Please forward this to your legal department: unless the contract terms are honoured we "
         "will take the matter to court."),
        ("Court documents", "We were served with a subpoena that requires records you host for us."),
    ],
    "gdpr": [
        ("Right to be forgotten", "Please delete all my data under the GDPR right to be forgotten."),
        ("Erasure request", "Under GDPR Article 17 I request the erasure of all personal data you hold about me."),
        ("Delete everything about me", "As an EU resident I ask you to permanently erase every piece of personal "
         "information you keep on me, as the data protection regulation allows."),
    ],
    "refund_big": [
        ("Refund request", "Please process a refund of $1,500 for the duplicate charge on our March invoice."),
        ("We want our money back", "We were billed twice this year. Refund the $2,400 annual fee we paid twice, please."),
        ("Refund for cancelled plan", "Requesting a refund of $3,200 for the annual plan we cancelled in week one."),
    ],
    "churn": [
        ("Cancelling", "If this is not fixed we will cancel our subscription and move to a competitor."),
        ("Not renewing", "Frankly we are evaluating other vendors and will not renew when the contract ends."),
    ],
    "p0": [("Production degraded", "Production is badly degraded for all customers right now.")],
    "p1": [("Data integrity issue", "Since the last update some records show up twice in the sync."),
           ("Severe slowdown", "Since the deploy, every report takes minutes; our production use is degraded.")],
    "p2": [("Feature broken for some users", "The CSV import fails for a subset of our users.")],
    "p3": [("Minor glitch", "A tooltip overlaps the save button."),
           ("Typo", "There is a typo on the billing settings page.")],
    "noise": [
        ("How do I export a report?", "Where is the export button for monthly reports? I looked in settings."),
        ("Password reset", "I did not receive the password reset email. Can you resend it?"),
        ("Add a user to our team", "How can I add a new user to our workspace and set their role?"),
        ("Dashboard question", "Is there a way to change the default date range on the dashboard?"),
        ("Integration setup", "We are setting up the calendar integration and want to confirm the steps."),
        ("Billing address", "Please update the billing address on our invoice to our new office."),
    ],
}

# Near misses: share words with a kind, mean something else (no escalation is required).
NEAR_MISSES: dict[str, list[tuple[str, str]]] = {
    "security": [("Security settings", "How do I turn on two-factor authentication for better security?"),
                 ("Vendor review", "Our procurement asks for your security questionnaire and penetration test summary.")],
    "outage": [("Maintenance window", "Is there planned maintenance next month? We want to schedule our launch "
                "around it."),
               ("Old incident report", "For our records: could you send the report for the incident you had in "
                "March? Everything works fine now.")],
    "data_loss": [("Avoiding lost work", "How do I make sure I do not lose my drafts when I close the browser?"),
                  ("Trash bin", "If I delete a project by mistake, can I restore it from a trash bin?")],
    "legal": [("Contract copy", "Our legal team needs a signed copy of the data processing agreement."),
              ("Terms question", "Where can I read your terms of service?")],
    "gdpr": [("Privacy policy", "Are you GDPR compliant? Where is your privacy policy?"),
             ("Delete a user", "How do I remove a former employee's user from our workspace?")],
    "refund_big": [("Small refund", "We request a refund of $200 for the unused seats."),
                   ("Invoice total", "Our invoice shows $5,000; can you explain the line items?")],
    "manager": [("Manager report", "My manager asked me to export the weekly report. How do I do that?")],
}

MANAGER_ASKS = [
    "This is the third time I ask. I want to speak to a manager about this.",
    "Please escalate this to your supervisor, I have waited long enough.",
    "I would like someone senior, a team lead or whoever is in charge, to look at this now.",
]
MANAGER_NEAR_MISS = ["My manager says it works for him now, thanks.", "Our team manager will send the logs tomorrow."]
FAILED_AGAIN = ["It is still not working for us, we tried that twice."]  # teamflow L1: failed attempts
FOLLOW_UPS = ["Any news on this? We are still affected.", "Thanks for the update, here are the details you asked for.",
              *FAILED_AGAIN]
CONTEXT_NOTE = ("Steps taken:\n- Reproduced with the customer's account\n- Checked the logs for the window\n"
                "Customer impact: the team cannot finish month-end reports\nSuggested next step: backend check")
BARE_NOTE = "Needs someone with backend access."
TAKE_REPLY = "I have taken this over and am looking into it now; I will update you shortly."
FIX_TEXT = "Good news: a fix has been deployed. Could you confirm it works for you now?"
