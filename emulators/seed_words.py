"""Word lists and comment templates for the seed generator.

Kept apart from :mod:`emulators.seed` so the generator reads as logic, not as data.
Everything here is invented; any resemblance to a real company is accidental.
"""

from __future__ import annotations

from typing import Final


def _words(text: str) -> tuple[str, ...]:
    """Split a comma-separated block into stripped, non-empty items (keeps the lists compact)."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


INDUSTRY_NOUNS: Final[dict[str, tuple[str, ...]]] = {
    "Software": ("Software", "Labs", "Systems", "Cloud", "Digital", "Data"),
    "Financial Services": ("Capital", "Financial", "Payments", "Lending", "Advisors", "Bank"),
    "Healthcare": ("Health", "Medical", "Care", "Diagnostics", "Clinics", "Therapeutics"),
    "Manufacturing": ("Manufacturing", "Industries", "Components", "Machining", "Fabrication"),
    "Retail": ("Retail", "Outfitters", "Market", "Goods", "Supply Co", "Stores"),
    "Logistics": ("Logistics", "Freight", "Shipping", "Transport", "Cargo", "Fleet"),
    "Education": ("Learning", "Academy", "Education", "Tutoring", "Institute"),
    "Media": ("Media", "Studios", "Publishing", "Broadcasting", "Creative"),
    "Energy": ("Energy", "Power", "Solar", "Utilities", "Renewables"),
    "Professional Services": ("Consulting", "Partners", "Advisory", "Associates", "Group"),
    "Telecommunications": ("Telecom", "Networks", "Wireless", "Communications", "Fiber"),
    "Hospitality": ("Hotels", "Hospitality", "Resorts", "Travel", "Dining"),
}

NAME_STEMS: Final = _words(
    """
    Acorn, Alder, Alpine, Amber, Anchor, Apex, Arbor, Aspen, Atlas, Aurora, Beacon, Birch,
    Blue Harbor, Bluestone, Boulder, Brightwater, Brookside, Canyon, Cascade, Cedar,
    Clearwater, Cobalt, Compass, Copper, Coral, Crescent, Crown, Cypress, Delta, Driftwood,
    Eastgate, Ember, Evergreen, Falcon, Fernwood, Fieldstone, Firefly, Foxglove, Frontier,
    Glacier, Golden, Granite, Greenfield, Harbor, Hawthorne, Highland, Horizon, Ironwood,
    Juniper, Keystone, Lakeshore, Lantern, Laurel, Linden, Lodestar, Magnolia, Maple, Meridian,
    Mesa, Millbrook, Monarch, Northwind, Oakridge, Obsidian, Orchard, Osprey, Pacific, Paragon,
    Pinnacle, Pioneer, Polaris, Prairie, Quarry, Redwood, Ridgeline, Riverbend, Rockwell,
    Sagebrush, Sapphire, Sequoia, Silverline, Skyline, Solstice, Sterling, Stonebridge, Summit,
    Sunridge, Tamarack, Thistle, Timberline, Trailhead, Tidewater, Vantage, Vertex, Westbrook,
    Whitecap, Willow, Windmill, Zephyr
    """
)

LEGAL_SUFFIXES: Final[dict[str, tuple[str, ...]]] = {
    "NA": ("Inc.", "LLC", "Corp.", "Co.", ""),
    "EMEA": ("Ltd", "GmbH", "B.V.", "S.A.S.", "AB", "plc", ""),
    "APAC": ("Pty Ltd", "Pte Ltd", "K.K.", "Ltd", ""),
    "LATAM": ("S.A.", "S.A. de C.V.", "Ltda.", "SpA", ""),
}

TOP_LEVEL_DOMAINS: Final[dict[str, tuple[str, ...]]] = {
    "NA": ("com", "com", "com", "io", "us", "ca"),
    "EMEA": ("com", "co.uk", "de", "fr", "nl", "se", "eu", "ie"),
    "APAC": ("com", "com.au", "sg", "co.jp", "co.nz", "in"),
    "LATAM": ("com", "com.br", "com.mx", "cl", "com.ar", "co"),
}

FIRST_NAMES: Final = _words(
    """
    Aaliyah, Adrian, Aisha, Alejandro, Amara, Amelia, Ana, Andrea, Anika, Arjun, Beatriz,
    Benjamin, Camila, Carlos, Charlotte, Chen, Chloe, Daniel, David, Diego, Elena, Elif, Emma,
    Ethan, Fatima, Felix, Gabriel, Grace, Hana, Hannah, Hiroshi, Ibrahim, Ingrid, Isabel, Jack,
    James, Jana, Javier, Jonas, José, Julia, Kai, Karin, Kenji, Lars, Laura, Leila, Liam,
    Lucas, Lucía, Maya, Mei, Mia, Miguel, Mohammed, Nadia, Naomi, Nathan, Nikhil, Noah, Olga,
    Oliver, Omar, Priya, Rafael, Rahul, Renée, Ryan, Sara, Sebastian, Sofia, Sophie, Stefan,
    Tariq, Thomas, Valentina, Wei, William, Yara, Yusuf, Zoe
    """
)

LAST_NAMES: Final = _words(
    """
    Abbott, Adeyemi, Andersson, Bauer, Becker, Bennett, Bianchi, Brooks, Castillo, Chen, Cohen,
    Costa, Dubois, Eriksen, Fernández, Fischer, Fitzgerald, García, Goldberg, Gonzalez, Gupta,
    Haddad, Hansen, Hartmann, Hughes, Ivanova, Jansen, Johansson, Kaplan, Kato, Kim, Kowalski,
    Kumar, Larsen, Lee, Lindqvist, Lopez, Mahmoud, Martin, Martínez, McAllister, Mendes, Meyer,
    Morales, Müller, Murphy, Nakamura, Nguyen, Novak, O'Brien, O'Connor, Okafor, Olsen, Patel,
    Peters, Pham, Reyes, Richter, Rodriguez, Rossi, Sato, Schmidt, Schneider, Shah, Silva,
    Singh, Sokolov, Suzuki, Tanaka, Thompson, Torres, van Dijk, Vargas, Wagner, Walsh, Wang,
    Weber, Williams, Wójcik, Yamamoto, Zhang, Zimmermann
    """
)

CONTACT_TITLES: Final = _words(
    """
    VP of Operations, Director of IT, Head of Customer Success, Procurement Manager,
    Chief Financial Officer, Operations Manager, Support Team Lead, CTO, Product Manager,
    Revenue Operations Manager, Systems Administrator, Director of Finance, Head of Marketing,
    Business Analyst, COO
    """
)

PERSONAL_EMAIL_DOMAINS: Final = _words(
    """
    gmail.com, outlook.com, yahoo.com, icloud.com, proton.me, hotmail.co.uk
    """
)

TICKET_SUBJECTS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("Cannot export report to CSV", ("reports", "export")),
    ("SSO login redirects in a loop", ("sso", "login")),
    ("Question about our latest invoice", ("billing",)),
    ("API returns 500 on bulk update", ("api", "bug")),
    ("How do I add a new admin?", ("how-to", "permissions")),
    ("Dashboard loads very slowly", ("performance",)),
    ("Salesforce sync stopped overnight", ("integration", "salesforce")),
    ("Request to increase seat count", ("billing", "expansion")),
    ("Scheduled report emails not arriving", ("reports", "email")),
    ("Data import failed with validation errors", ("import",)),
    ("Mobile app crashes on startup", ("mobile", "bug")),
    ("Need a copy of the security questionnaire", ("security", "compliance")),
)

MONTHS: Final = _words(
    """
    January, February, March, April, May, June, July, August, September, October, November,
    December
    """
)

FEATURES: Final = _words(
    """
    dashboard builder, Salesforce sync, scheduled reports, mobile app, workflow automation,
    audit log, API, Slack integration
    """
)

MISSING_FEATURES: Final = _words(
    """
    SAML SSO for contractors, a proper sandbox, bulk editing, custom roles, an EU data region,
    two-way Jira sync, field-level permissions
    """
)

# Comment templates by NPS category, then by theme. Placeholders: {feature}, {missing},
# {agent}, {csm}, {weeks}, {month}, {industry}.
COMMENTS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "promoter": {
        "onboarding": (
            "Onboarding was smooth and {csm} made the rollout painless.",
            "We were live in {weeks} weeks, faster than any tool we've adopted.",
            "The implementation team knew our use case better than we did.",
        ),
        "support": (
            "Support answers within the hour, every time.",
            "{agent} on your support team went above and beyond in {month}.",
            "Whenever we open a ticket it gets solved the same day. Impressive.",
        ),
        "reliability": (
            "Rock solid. I can't remember the last outage.",
            "It just works, which is the highest compliment I can give.",
        ),
        "features": (
            "The new {feature} saves my team hours every week.",
            "Love the {feature}; it replaced two spreadsheets for us.",
            "The {feature} is exactly what we needed.",
        ),
        "pricing": (
            "Great value for what we pay.",
            "Fair pricing and no surprises at renewal.",
        ),
        "general": (
            "Great product, great people.",
            "I would recommend it to any {industry} team.",
            "10/10, keep doing what you're doing! 🙌",
        ),
    },
    "passive": {
        "onboarding": (
            "Setup took longer than we expected, but it works now.",
            "Onboarding was fine, though the documentation could be clearer.",
        ),
        "support": (
            "Support is helpful but responses can take a day or two.",
            "Good support once you reach the right person.",
        ),
        "reliability": (
            "Mostly reliable, though we had a couple of slow days in {month}.",
            "Occasional sync delays, otherwise fine.",
        ),
        "features": (
            "Good overall. We still miss {missing}.",
            "Does the job. The {feature} could be more flexible.",
        ),
        "pricing": (
            "Solid product, but the price increase at renewal was hard to justify.",
            "Pricing is on the high side for a team our size.",
        ),
        "general": (
            "Does what it says. Nothing more, nothing less.",
            "It's okay. Some rough edges.",
        ),
    },
    "detractor": {
        "onboarding": (
            "Onboarding was a mess; we went through three different contacts.",
            "It took {weeks} weeks to get SSO working.",
        ),
        "support": (
            "Tickets sit for days without an answer.",
            "I had to escalate through our account manager to get a reply.",
            "Support keeps closing our ticket without fixing the problem.",
        ),
        "reliability": (
            "Three outages this quarter. Our ops team has lost trust.",
            "The {feature} times out constantly.",
            "We lost data during the {month} incident and nobody explained why.",
        ),
        "features": (
            "{missing} has been 'on the roadmap' for a year.",
            "The {feature} is too limited for a {industry} company.",
        ),
        "pricing": (
            "Too expensive for what we use. We are evaluating alternatives before renewal.",
            "We were billed twice in {month} and it took weeks to fix.",
        ),
        "general": (
            "Not happy. Please call me.",
            "Honestly considering switching vendors.",
        ),
    },
}

FOLLOW_UPS: Final[dict[str, tuple[str, ...]]] = {
    "promoter": (
        "Thanks to the whole team!",
        "Looking forward to the roadmap.",
        "Keep it up.",
    ),
    "passive": (
        "Happy to talk if that helps.",
        "We'll see how the next release goes.",
        "Not a dealbreaker yet.",
    ),
    "detractor": (
        "We need a call with someone senior before our renewal.",
        "Please have our account manager reach out.",
        "This is the second time I am raising this.",
    ),
}

# Whole comments in a customer's own language, used on their own (never mixed with English).
LOCAL_LANGUAGE_COMMENTS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "EMEA": {
        "promoter": (
            "Sehr zufrieden, das Team arbeitet jeden Tag damit.",
            "Très bon outil, le support est réactif.",
        ),
        "passive": (
            "Bon produit, mais l'interface pourrait être plus simple.",
            "Solide, aber die Berichte sind zu langsam.",
        ),
        "detractor": (
            "Zu teuer für das, was wir nutzen. Wir prüfen Alternativen.",
            "Le support met des jours à répondre.",
        ),
    },
    "LATAM": {
        "promoter": (
            "¡Excelente servicio! Lo recomendamos a todos.",
            "Ótima ferramenta, recomendo.",
        ),
        "passive": ("Funciona bien, pero la configuración fue lenta.",),
        "detractor": ("Muito caro e o suporte demora demais.", "El sistema se cae cada semana."),
    },
}
