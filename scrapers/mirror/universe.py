"""The demo catalog's ground truth: organizations, credentials, and who lists what.

A seeded generator. It decides the true credentials (their type, field, workload, price ...)
and, for each source site, which credentials that source lists and under what variation of
title and wording. The format writers in ``formats/`` then render each source's listings in
its real-world shape, and the truth written beside the sites makes accuracy measurable.
Everything is derived from ``random.Random(seed)``: the same seed gives the same bytes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# --- organizations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Org:
    key: str
    name: str
    kind: str  # university | mooc_platform | professional_association | vendor | training_provider
    country: str  # ISO 3166-1 alpha-2
    language: str  # BCP 47
    aliases: tuple[str, ...] = ()
    domain: str = ""


UNIVERSITIES = [
    Org("northfield", "Northfield University", "university", "US", "en", ("Northfield", "NorthfieldX", "NFU"), "northfield.example.edu"),
    Org("lakeside", "Lakeside Community College", "university", "US", "en", ("Lakeside College", "LCC"), "lakeside.example.edu"),
    Org("harbourview", "Harbourview University", "university", "GB", "en", ("HarbourviewX", "Harbourview"), "harbourview.example.ac.uk"),
    Org("rheinau", "Technische Hochschule Rheinau", "university", "DE", "de", ("TH Rheinau", "RheinauX"), "th-rheinau.example.de"),
    Org("valdemar", "Valdemar Institute of Technology", "university", "DK", "en", ("VIT", "ValdemarX"), "valdemar.example.dk"),
    Org("santacruz", "Universidad de Santa Cruz del Valle", "university", "ES", "es", ("UniSantaCruz", "SantaCruzX"), "uscv.example.es"),
    Org("maplewood", "Maplewood State University", "university", "US", "en", ("Maplewood State", "MSU Maplewood"), "maplewood.example.edu"),
    Org("kestrel", "Kestrel Polytechnic", "university", "AU", "en", ("KestrelX", "Kestrel Poly"), "kestrel.example.edu.au"),
    Org("lyon", "Université de Lyon-Saint-Clair", "university", "FR", "fr", ("ULSC", "LyonSaintClairX"), "ulsc.example.fr"),
    Org("aurora", "Aurora School of Business", "university", "NL", "en", ("Aurora Business School", "AuroraX"), "aurora.example.nl"),
]
VENDORS = [
    Org("cloudcraft", "Cloudcraft Inc.", "vendor", "US", "en", ("Cloudcraft",), "cloudcraft.example.com"),
    Org("dataforge", "DataForge", "vendor", "US", "en", ("DataForge Labs",), "dataforge.example.com"),
    Org("netsecure", "NetSecure Systems", "vendor", "IE", "en", ("NetSecure",), "netsecure.example.com"),
]
TRAINERS = [
    Org("brightpath", "BrightPath Academy", "training_provider", "US", "en", ("BrightPath",), "brightpath.example.com"),
    Org("codeharbor", "CodeHarbor Training", "training_provider", "GB", "en", ("CodeHarbor",), "codeharbor.example.co.uk"),
    Org("skillsmith", "Skillsmith Learning", "training_provider", "IN", "en", ("Skillsmith",), "skillsmith.example.in"),
]
ASSOCIATIONS = [
    Org("iadp", "International Association of Data Practitioners", "professional_association", "US", "en", ("IADP",), "iadp.example.org"),
    Org("pmguild", "Project Management Guild", "professional_association", "US", "en", ("PM Guild", "PMG"), "pmguild.example.org"),
    Org("hsi", "Health Safety Institute", "professional_association", "GB", "en", ("HSI",), "hsi.example.org"),
]
PLATFORMS = {
    "opencourse_api": Org("opencourse", "OpenCourse", "mooc_platform", "US", "en", (), "opencourse.example.org"),
    "learnwave_feed": Org("learnwave", "LearnWave", "mooc_platform", "GB", "en", (), "learnwave.example.org"),
    "skillmarket_api": Org("skillmarket", "SkillMarket", "mooc_platform", "US", "en", (), "skillmarket.example.com"),
    "coursehub_csv": Org("coursehub", "CourseHub", "mooc_platform", "US", "en", (), "coursehub.example.com"),
}
ALL_ORGS = UNIVERSITIES + VENDORS + TRAINERS + ASSOCIATIONS

# --- subjects: ISCED-F detailed code, subject name as catalogs say it, title topics, skills ---

SUBJECTS: list[tuple[str, str, list[str], list[str]]] = [
    ("0613", "Computer Science", ["Python Programming", "Web Development", "Software Engineering", "Java Programming",
      "Mobile App Development", "Algorithms and Data Structures", "Full-Stack JavaScript", "DevOps Practices",
      "Cloud Application Development", "Game Development", "Object-Oriented Design", "Rust Systems Programming",
      "Functional Programming", "Software Testing", "API Design", "Front-End Frameworks"],
     ["Python (computer programming)", "JavaScript", "develop software prototype", "use software design patterns",
      "perform software unit testing", "Java (computer programming)"]),
    ("0612", "Information Technology", ["Database Administration", "Network Administration", "Cloud Infrastructure",
      "Linux System Administration", "SQL for Data Analysis", "Cybersecurity Fundamentals", "Ethical Hacking",
      "Network Security", "Identity and Access Management", "Kubernetes Operations", "Incident Response"],
     ["administer ICT system", "manage database", "SQL", "implement firewalls", "perform ICT security testing",
      "cloud technologies"]),
    ("0542", "Data Science", ["Data Science", "Machine Learning", "Applied Statistics", "Data Visualization",
      "Deep Learning", "Natural Language Processing", "Time Series Forecasting", "Bayesian Statistics",
      "Big Data Analytics", "Data Engineering", "Causal Inference", "Experimental Design"],
     ["statistics", "machine learning", "data mining", "visualise data", "perform data analysis",
      "apply statistical analysis techniques"]),
    ("0413", "Business", ["Project Management", "Strategic Management", "Leadership and Management",
      "Operations Management", "Supply Chain Management", "Human Resource Management", "Agile Project Management",
      "Business Analytics", "Entrepreneurship", "Change Management", "Negotiation"],
     ["project management", "lead a team", "strategic planning", "manage supply chain", "negotiate contracts"]),
    ("0412", "Finance", ["Corporate Finance", "Financial Markets", "Investment Management", "FinTech",
      "Risk Management", "Personal Finance", "Financial Modeling", "Sustainable Finance"],
     ["financial analysis", "risk management", "build financial models", "financial markets"]),
    ("0411", "Accounting", ["Financial Accounting", "Managerial Accounting", "Auditing", "Taxation Basics",
      "Forensic Accounting", "International Financial Reporting"],
     ["accounting", "perform auditing", "tax legislation", "prepare financial statements"]),
    ("0414", "Marketing", ["Digital Marketing", "Social Media Marketing", "Brand Management",
      "Marketing Analytics", "Search Engine Optimization", "Content Marketing", "Consumer Behavior"],
     ["digital marketing techniques", "social media management", "search engine optimisation", "brand marketing"]),
    ("0913", "Nursing", ["Nursing Leadership", "Nursing Education", "Patient Safety", "Palliative Care Nursing",
      "Clinical Nursing Skills", "Pediatric Nursing"],
     ["nursing science", "apply nursing care", "patient safety", "palliative care"]),
    ("0912", "Health", ["Public Health", "Epidemiology", "Global Health", "Health Informatics",
      "Healthcare Management", "Nutrition and Health", "Mental Health First Aid"],
     ["epidemiology", "public health", "health informatics", "healthcare systems"]),
    ("0111", "Education", ["Online Teaching", "Instructional Design", "Educational Leadership",
      "Learning Analytics", "Inclusive Education", "Assessment for Learning"],
     ["instructional design", "pedagogy", "teaching strategies", "assess students"]),
    ("0231", "Languages", ["English for Business", "Academic English", "Spanish for Beginners",
      "German for Professionals", "French Language and Culture", "Intercultural Communication"],
     ["English", "Spanish", "German", "French", "intercultural awareness"]),
    ("0521", "Environment", ["Climate Change", "Sustainable Development", "Environmental Management",
      "Renewable Energy Policy", "Circular Economy", "Water Resources Management"],
     ["environmental policy", "sustainability", "climate change impact", "renewable energy technologies"]),
    ("0713", "Engineering", ["Electrical Power Systems", "Solar Energy Engineering", "Energy Storage",
      "Smart Grids", "Electric Vehicles"],
     ["electrical engineering", "solar energy", "energy storage systems", "smart grids"]),
    ("0714", "Engineering", ["Robotics", "Embedded Systems", "Industrial Automation", "Control Systems",
      "Internet of Things"],
     ["robotics", "embedded systems", "automation technology", "control systems"]),
    ("0421", "Law", ["Contract Law", "Data Protection and Privacy Law", "International Business Law",
      "Intellectual Property"],
     ["contract law", "data protection", "intellectual property law"]),
    ("0313", "Psychology", ["Positive Psychology", "Cognitive Psychology", "Organizational Psychology",
      "Psychology of Learning"],
     ["psychology", "human behaviour", "cognitive psychology"]),
    ("1022", "Occupational Health and Safety", ["Workplace Safety", "Occupational Health", "Fire Safety Management",
      "Hazardous Materials Handling"],
     ["occupational health and safety", "risk assessment", "fire safety regulations"]),
    ("0211", "Media Production", ["Video Production", "Podcast Production", "Photography", "UX Design",
      "Graphic Design"],
     ["video editing", "photography", "graphic design", "user experience design"]),
]
SUBJECT_BY_ISCED = {s[0]: s for s in SUBJECTS}

# Kinds of credential: (CTDL class, provider labels as platforms write them, record kind)
CREDENTIAL_KINDS = {
    "MicroCredential": ["Specialization", "MicroMasters Program", "XSeries", "Micro-credential"],
    "ProfessionalCertificate": ["Professional Certificate"],
    "Certificate": ["Certificate", "Graduate Certificate"],
    "CertificateOfCompletion": ["Verified Certificate", "Certificate of Completion"],
    "Certification": ["Certification"],
    "DigitalBadge": ["Digital Badge"],
    "MasterDegree": ["Master's Degree"],
    "BachelorDegree": ["Bachelor's Degree"],
    "Course": ["Course"],  # a learning opportunity that awards no credential
}
EQF_BY_TYPE = {"MasterDegree": 7, "BachelorDegree": 6}
LEVELS = ["BeginnerLevel", "IntermediateLevel", "AdvancedLevel"]
QUALIFIERS = ["Introduction to", "Foundations of", "Applied", "Advanced", "Practical", "Principles of"]

# --- beyond scale 1: more organizations, wider titles ------------------------------------------
# At scale 1 the catalog has 19 organizations and a few hundred title topics. Scaled up as is,
# thousands of different credentials would share one title and one awarding body, which no
# matcher can (or should) tell apart. Above scale 1 the universe therefore adds organizations
# in proportion to scale and gives every credential a focus and a domain in its title. All of
# it is drawn from a second random stream, so scale <= 1 stays byte-identical.

_PLACE_HEADS = ["North", "South", "East", "West", "Lake", "River", "Oak", "Pine", "Stone", "Green", "Silver",
                "Red", "Fair", "Clear", "High", "Bright", "Elm", "Ash", "Cedar", "Maple", "Willow", "Hazel",
                "Brook", "Glen", "Moor", "Wolf", "Fox", "Raven", "Hawk", "Swan", "Iron", "Gold", "Copper",
                "Amber", "Coral", "Frost", "Sun", "Star", "Bay", "Cliff", "Rose", "Thorn", "Heather", "Marsh"]
_PLACE_TAILS = ["field", "ford", "wood", "dale", "brook", "haven", "ton", "bury", "ridge", "mont", "port",
                "view", "gate", "ley", "worth", "stead", "mere", "wick", "croft", "holm", "shire", "vale"]
_UNI_PATTERNS = ["{p} University", "University of {p}", "{p} Institute of Technology", "{p} State University",
                 "{p} College", "{p} Polytechnic", "{p} School of Business", "{p} Technical University"]
_VENDOR_PATTERNS = ["{p} Systems", "{p} Labs", "{p} Software", "{p} Technologies", "{p} Cloud", "{p} Networks",
                    "{p} Analytics", "{p} Data Inc."]
_TRAINER_PATTERNS = ["{p} Academy", "{p} Training", "{p} Learning", "{p} Bootcamp", "{p} Skills Institute",
                     "{p} Online School"]
_ASSOC_FIELDS = ["Data Professionals", "Project Leaders", "Safety Officers", "Health Informaticians",
                 "Analytics Practitioners", "Quality Managers", "Business Analysts", "Risk Managers",
                 "Clinical Researchers", "Supply Chain Professionals"]
_ASSOC_PATTERNS = ["{p} Association of {f}", "{p} Society of {f}", "{p} Institute of {f}", "{p} Guild of {f}"]
_COUNTRIES = [("US", "en", "edu"), ("US", "en", "edu"), ("GB", "en", "ac.uk"), ("DE", "de", "de"), ("FR", "fr", "fr"),
              ("ES", "es", "es"), ("NL", "en", "nl"), ("DK", "en", "dk"), ("AU", "en", "edu.au"), ("IE", "en", "ie"),
              ("CA", "en", "ca"), ("IN", "en", "in")]
# Per-scale-1 count of each kind's organizations (the fixed ones above) added per unit of scale.
_EXTRA_ORGS_PER_SCALE = {"university": 8, "vendor": 3, "training_provider": 3, "professional_association": 2}
TITLE_FOCUS = ["Data Pipelines", "Automation", "Cloud Platforms", "Risk and Compliance", "Team Leadership",
               "Quality Assurance", "Security Practices", "Performance Tuning", "Reporting and Dashboards",
               "Customer Insight", "Decision Making", "Process Improvement", "Research Methods", "Ethics",
               "Communication", "Digital Transformation", "Regulation", "Sustainability", "Innovation",
               "Systems Thinking", "Optimization", "Modeling", "Strategy", "Operations", "Governance",
               "Measurement", "Case Studies", "Field Practice", "Tools and Techniques", "Capstone Projects",
               "Emerging Trends", "Policy", "Forecasting", "Design Thinking", "Quality Improvement",
               "Workflow Design", "Stakeholder Management", "Scaling", "Testing and Validation", "Integration",
               "Troubleshooting", "Visualization", "Planning", "Evaluation", "Implementation", "Standards",
               "Negotiation Skills", "Change Leadership", "Resilience", "Interoperability"]
TITLE_DOMAINS = ["Healthcare", "Finance", "Retail", "Manufacturing", "Education", "Government", "Nonprofits",
                 "Startups", "Energy", "Logistics", "Telecommunications", "Insurance", "Banking", "Agriculture",
                 "Hospitality", "Media", "Construction", "Transportation", "Pharmaceuticals", "Real Estate",
                 "Public Sector", "Small Business", "Aerospace", "Automotive", "Biotechnology", "E-Commerce",
                 "Gaming", "Legal Services", "Mining", "Tourism", "Utilities", "Defense", "Fashion", "Food Industry",
                 "Sports", "Smart Cities", "Research Labs", "Engineers", "Managers", "Beginners", "Professionals",
                 "Data Teams", "Clinicians", "Educators", "Consultants", "Entrepreneurs", "Developers",
                 "Analysts", "Executives", "Freelancers"]


# Organizations whose own site is a source: they keep every credential of theirs at any scale.
_OWN_SITE_ORGS = frozenset({"northfield", "lakeside", "iadp"})


def _extra_orgs(xrng: random.Random, scale: float) -> dict[str, list[Org]]:
    """Synthetic organizations for scale > 1, per kind, with unique names and keys."""
    taken = {o.name for o in ALL_ORGS}
    out: dict[str, list[Org]] = {}
    for kind, per_scale in _EXTRA_ORGS_PER_SCALE.items():
        patterns = {"university": _UNI_PATTERNS, "vendor": _VENDOR_PATTERNS, "training_provider": _TRAINER_PATTERNS,
                    "professional_association": _ASSOC_PATTERNS}[kind]
        orgs: list[Org] = []
        for i in range(round(per_scale * (scale - 1))):
            for attempt in range(1000):
                place = xrng.choice(_PLACE_HEADS) + xrng.choice(_PLACE_TAILS)
                name = xrng.choice(patterns).format(p=place, f=xrng.choice(_ASSOC_FIELDS))
                if attempt > 50:  # the name space is crowded: qualify by a second place
                    name = f"{name} {xrng.choice(_PLACE_HEADS)}{xrng.choice(_PLACE_TAILS)}"
                if name not in taken:
                    break
            taken.add(name)
            country, language, tld = xrng.choice(_COUNTRIES)
            if kind != "university":
                tld = "com" if kind != "professional_association" else "org"
            initials = "".join(w[0] for w in name.replace(".", "").split() if w[0].isupper())
            aliases = (place, f"{place}X") if kind == "university" else (place, initials)
            slug = "".join(ch for ch in name.lower() if ch.isalnum())
            orgs.append(Org(f"x{kind[:3]}{i:05d}", name, kind, country, language, aliases, f"{slug}.example.{tld}"))
        out[kind] = orgs
    return out


TITLE_FORMATS = ["Workshop", "Seminar", "Studio", "Practicum", "Lab", "Intensive", "Colloquium", "Clinic",
                 "Bootcamp", "Masterclass", "Field Course", "Residency", "Tutorial", "Project Course",
                 "Honors Track", "Evening Track", "Weekend Track", "Online Cohort", "Capstone", "Survey Course"]


def _widen_title(xrng: random.Random, title: str, crowded: bool = False) -> str:
    """A focus and a domain, as catalogs that hold thousands of courses name them; an
    organization that alone lists tens of thousands (its own site) also names the format."""
    wide = f"{title}: {xrng.choice(TITLE_FOCUS)} for {xrng.choice(TITLE_DOMAINS)}"
    return f"{wide} {xrng.choice(TITLE_FORMATS)}" if crowded else wide


@dataclass
class Credential:
    key: str
    title: str
    org: Org
    credential_type: str
    type_label: str
    isced: str
    subject_name: str
    audience_level: str
    eqf_level: int | None
    weeks: int
    hours_per_week: tuple[int, int]
    total_hours: int
    credits_ects: float | None
    price: float  # in currency below; 0 = free
    currency: str
    free_to_audit: bool
    modality: str  # OnlineOnly | InPerson | BlendedDelivery
    timing: str  # self-paced | scheduled
    language: str
    skills: list[str]
    outcomes: list[str]
    description: str
    assessment: str
    quality_assurance: str | None
    start_dates: list[str]
    exam_fee: float | None = None


@dataclass
class Listing:
    """One credential as one source lists it: the source's own variant of the record."""

    credential: Credential
    source: str
    title: str
    description: str
    price: float
    currency: str
    is_test: bool = False
    extras: dict = field(default_factory=dict)


# Sources of the demo catalog and their format (the writers in formats/ render them).
SOURCES = {
    "opencourse_api": "edx_course_api",
    "skillmarket_api": "udemy_api",
    "northfield_university": "jsonld_program_pages",
    "lakeside_college": "courseleaf",
    "learnwave_feed": "edx_course_feed_rss",
    "credential_registry": "ctdl_registry",
    "iadp_certifications": "association_pages",
    "coursehub_csv": "csv_file_drop",
}


@dataclass
class Universe:
    seed: int
    credentials: list[Credential]
    listings: dict[str, list[Listing]]


def _sentence_outcomes(rng: random.Random, topic: str, skills: list[str]) -> list[str]:
    verbs = ["Apply", "Explain", "Design", "Evaluate", "Build", "Analyse", "Use", "Compare"]
    picks = rng.sample(skills, k=min(len(skills), rng.randint(2, 4)))
    return [f"{rng.choice(verbs)} {s} in the context of {topic.lower()}" for s in picks]


def _make_credential(rng: random.Random, idx: int, org: Org, ctype: str, subject: tuple,
                     xrng: random.Random | None = None) -> Credential:
    isced, subject_name, topics, skills = subject
    topic = rng.choice(topics)
    if ctype in ("MasterDegree", "BachelorDegree"):
        prefix = "Master of Science in" if ctype == "MasterDegree" else "Bachelor of Science in"
        title = f"{prefix} {topic}"
    elif rng.random() < 0.45:
        title = f"{rng.choice(QUALIFIERS)} {topic}"
    else:
        title = topic
    if ctype == "Certification":
        title = f"Certified {topic} Professional"
    if xrng is not None:  # scale > 1 only
        title = _widen_title(xrng, title, crowded=org.key in _OWN_SITE_ORGS)
    label = rng.choice(CREDENTIAL_KINDS[ctype])
    if ctype in ("MasterDegree", "BachelorDegree"):
        weeks = rng.choice([52, 78, 104]) if ctype == "MasterDegree" else rng.choice([156, 208])
        hpw = (15, 20)
        ects = 90.0 if ctype == "MasterDegree" and weeks <= 78 else (120.0 if ctype == "MasterDegree" else 180.0)
    elif ctype == "Course":
        weeks = rng.choice([4, 6, 8, 10, 12, 15])
        hpw = rng.choice([(2, 4), (3, 5), (4, 6), (6, 8), (8, 10)])
        ects = rng.choice([3.0, 4.0, 5.0, 6.0]) if org.kind == "university" else None
    elif ctype == "Certification":
        weeks = rng.choice([8, 12, 16])
        hpw = rng.choice([(4, 6), (5, 8)])
        ects = None
    else:
        weeks = rng.choice([4, 6, 8, 12, 16, 24, 26])
        hpw = rng.choice([(2, 3), (3, 5), (4, 6), (5, 7), (8, 10), (10, 12)])
        ects = rng.choice([None, None, 5.0, 10.0, 15.0]) if org.kind == "university" else None
    total = round(weeks * (hpw[0] + hpw[1]) / 2)
    if ctype in ("MasterDegree", "BachelorDegree"):
        price, currency = float(rng.choice([9800, 14500, 22000, 31000])), "USD"
    elif ctype == "Certification":
        price, currency = float(rng.choice([150, 225, 300, 395, 450])), "USD"
    elif org.kind == "training_provider":
        price, currency = float(rng.choice([19.99, 29.99, 49.99, 84.99, 0, 129.99])), "USD"
    else:
        price, currency = float(rng.choice([0, 49, 79, 99, 149, 199, 299, 450, 1200])), "USD"
    if org.country in ("DE", "FR", "ES", "NL", "DK", "IE") and rng.random() < 0.7 and price:
        currency = "EUR"
    elif org.country == "GB" and rng.random() < 0.7 and price:
        currency = "GBP"
    modality = "OnlineOnly"
    if org.kind in ("university",) and ctype in ("MasterDegree", "BachelorDegree", "Course", "Certificate"):
        modality = rng.choice(["OnlineOnly", "InPerson", "BlendedDelivery"])
    timing = "self-paced" if (modality == "OnlineOnly" and rng.random() < 0.6) else "scheduled"
    language = org.language if rng.random() < 0.8 else "en"
    if subject_name == "Languages" and "Spanish" in topic:
        language = "es" if rng.random() < 0.5 else language
    picked_skills = rng.sample(skills, k=min(len(skills), rng.randint(2, 4)))
    outcomes = _sentence_outcomes(rng, topic, skills)
    who = rng.choice(["professionals", "beginners", "career changers", "managers", "students", "engineers"])
    description = (
        f"{title} is a {label.lower()} from {org.name} for {who} who want to master {topic.lower()}. "
        f"You will learn {', '.join(picked_skills[:-1]) + ' and ' + picked_skills[-1] if len(picked_skills) > 1 else picked_skills[0]}. "
        f"Expect about {hpw[0]}-{hpw[1]} hours of work per week over {weeks} weeks."
    )
    assessment = {"Certification": "exam", "Course": rng.choice(["assignments", "exam", "project"])}.get(
        ctype, rng.choice(["project", "quizzes", "exam", "peer-reviewed assignments"])
    )
    qa = None
    if org.kind == "university":
        qa = "Accredited by the national quality assurance agency"
    elif org.kind == "professional_association":
        qa = "Accredited to ISO/IEC 17024"
    starts = [f"2027-{m:02d}-{rng.randint(1, 28):02d}" for m in sorted(rng.sample(range(1, 13), k=rng.randint(1, 3)))]
    level = rng.choice(LEVELS)
    return Credential(
        key=f"cred-{idx:06d}",
        title=title,
        org=org,
        credential_type=ctype,
        type_label=label,
        isced=isced,
        subject_name=subject_name,
        audience_level="GraduateLevel" if ctype == "MasterDegree" else ("UndergraduateLevel" if ctype == "BachelorDegree" else level),
        eqf_level=EQF_BY_TYPE.get(ctype),
        weeks=weeks,
        hours_per_week=hpw,
        total_hours=total,
        credits_ects=ects,
        price=price,
        currency=currency,
        free_to_audit=(org.kind == "university" and ctype in ("MicroCredential", "CertificateOfCompletion", "ProfessionalCertificate") and rng.random() < 0.6),
        modality=modality,
        timing=timing,
        language=language,
        skills=picked_skills,
        outcomes=outcomes,
        description=description,
        assessment=assessment,
        quality_assurance=qa,
        start_dates=starts,
        exam_fee=price if ctype == "Certification" else None,
    )


# --- title and text variation per listing ------------------------------------------------------

def vary_title(rng: random.Random, c: Credential, source: str) -> str:
    """How a source might rename the same credential: prefixes, suffixes, case, '&'."""
    t = c.title
    roll = rng.random()
    if roll < 0.30:
        return t
    if roll < 0.45:
        return f"{rng.choice(c.org.aliases or (c.org.name,))}: {t}"
    if roll < 0.60 and c.credential_type not in ("Course", "MasterDegree", "BachelorDegree", "Certification"):
        return f"{t} {c.type_label}"
    if roll < 0.70:
        return t.replace(" and ", " & ")
    if roll < 0.78:
        return t.upper() if rng.random() < 0.3 else t.lower().capitalize()
    if roll < 0.86:
        return f"{t} (Online)" if c.modality == "OnlineOnly" else f"{t} - {c.org.aliases[0] if c.org.aliases else c.org.name}"
    if roll < 0.93:
        return t.replace("Introduction to", "Intro to").replace("Foundations of", "Fundamentals of")
    return f"{t}: {rng.choice(['A Practical Approach', 'From Theory to Practice', 'Essentials'])}"


def vary_description(rng: random.Random, c: Credential) -> str:
    sentences = c.description.split(". ")
    if rng.random() < 0.3:
        rng.shuffle(sentences)
    if rng.random() < 0.3:
        sentences = sentences[:2]
    return ". ".join(s.rstrip(".") for s in sentences) + "."


_FX = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79}


def vary_price(rng: random.Random, c: Credential, source: str, currency: str | None = None) -> tuple[float, str]:
    """The same credential may be priced in another currency on another site."""
    if currency and currency != c.currency and c.price:
        usd = c.price / _FX[c.currency]
        return round(usd * _FX[currency], 2), currency
    return c.price, c.currency


# --- who lists what ----------------------------------------------------------------------------

def build_universe(seed: int = 7, scale: float = 1.0) -> Universe:
    """Decide the true credentials and each source's listings.

    Default scale writes about 2,400 listings of about 1,700 credentials, a quarter of
    which are listed by two or more sources.
    """
    rng = random.Random(seed)
    creds: list[Credential] = []
    # Above scale 1: a second stream (the first one's draws stay as they were) for extra
    # organizations and wider titles, so that different credentials rarely share a title and
    # an awarding body. Sites that are one organization's own (Northfield, Lakeside, IADP) keep it.
    xrng = random.Random(f"{seed}-beyond-scale-1") if scale > 1 else None
    extra = _extra_orgs(xrng, scale) if xrng is not None else {}
    own_site = _OWN_SITE_ORGS

    def add(org: Org, ctype: str, subjects: list[tuple] | None = None) -> Credential:
        subject = rng.choice(subjects or SUBJECTS)
        if xrng is not None and org.key not in own_site and extra.get(org.kind):
            pool = [o for o in ALL_ORGS if o.kind == org.kind and o.key not in own_site]
            org = xrng.choice(pool + extra[org.kind])
        c = _make_credential(rng, len(creds), org, ctype, subject, xrng)
        creds.append(c)
        return c

    n = lambda base: max(1, round(base * scale))  # noqa: E731
    mooc_types = ["MicroCredential", "ProfessionalCertificate", "CertificateOfCompletion", "Course", "Certificate"]
    northfield, lakeside = UNIVERSITIES[0], UNIVERSITIES[1]
    uni_mooc = [add(rng.choice(UNIVERSITIES[2:]), rng.choice(mooc_types)) for _ in range(n(600))]
    northfield_progs = [add(northfield, rng.choice(["Certificate", "MicroCredential", "ProfessionalCertificate",
                                                    "MasterDegree", "BachelorDegree", "DigitalBadge"])) for _ in range(n(150))]
    lakeside_courses = [add(lakeside, "Course") for _ in range(n(260))]
    lakeside_certs = [add(lakeside, "Certificate") for _ in range(n(40))]
    vendor_creds = [add(rng.choice(VENDORS), rng.choice(["ProfessionalCertificate", "Certification", "Course", "DigitalBadge"]),
                        [SUBJECT_BY_ISCED[c] for c in ("0613", "0612", "0542")]) for _ in range(n(120))]
    trainer_courses = [add(rng.choice(TRAINERS), "Course") for _ in range(n(450))]
    trainer_certs = [add(rng.choice(TRAINERS), "CertificateOfCompletion") for _ in range(n(80))]
    assoc_certs = [add(rng.choice(ASSOCIATIONS), "Certification",
                       [SUBJECT_BY_ISCED[c] for c in ("0542", "0413", "1022", "0912")]) for _ in range(n(90))]

    listings: dict[str, list[Listing]] = {s: [] for s in SOURCES}

    def list_on(source: str, c: Credential, currency: str | None = None) -> None:
        price, cur = vary_price(rng, c, source, currency)
        listings[source].append(Listing(c, source, vary_title(rng, c, source), vary_description(rng, c), price, cur))

    for c in uni_mooc:
        r = rng.random()
        if r < 0.62:
            list_on("opencourse_api", c)
            if rng.random() < 0.22:
                list_on("learnwave_feed", c, "GBP" if rng.random() < 0.3 else None)
        else:
            list_on("learnwave_feed", c)
        if rng.random() < 0.15:
            list_on("coursehub_csv", c)
    for c in northfield_progs:
        list_on("northfield_university", c)
        if c.credential_type in ("MicroCredential", "ProfessionalCertificate") and rng.random() < 0.6:
            list_on("opencourse_api", c)
        if rng.random() < 0.35:
            list_on("credential_registry", c)
    for c in lakeside_courses:
        list_on("lakeside_college", c)
        if rng.random() < 0.08:
            list_on("coursehub_csv", c)
    for c in lakeside_certs:
        list_on("lakeside_college", c)
        if rng.random() < 0.5:
            list_on("credential_registry", c)
    for c in vendor_creds:
        r = rng.random()
        if r < 0.5:
            list_on("opencourse_api", c)
        if r > 0.3:
            list_on("skillmarket_api", c)
        if c.credential_type == "Certification" and rng.random() < 0.6:
            list_on("credential_registry", c)
    for c in trainer_courses + trainer_certs:
        list_on("skillmarket_api", c)
        if rng.random() < 0.12:
            list_on("coursehub_csv", c)
    for c in assoc_certs:
        # The association lists its own certifications; the registry holds most of them
        # and every other association's.
        if c.org.key == "iadp":
            list_on("iadp_certifications", c)
        if c.org.key != "iadp" or rng.random() < 0.7:
            list_on("credential_registry", c)
        if rng.random() < 0.1:
            list_on("coursehub_csv", c)

    # Test records, as real catalogs carry them: kept, flagged, never matched.
    for source in ("opencourse_api", "skillmarket_api", "credential_registry"):
        base = rng.choice(listings[source]).credential
        listings[source].append(
            Listing(base, source, rng.choice(["TestCourse DO NOT USE", "TESTING_TESTING_123", "Test ORA course"]),
                    "Internal test record.", 0.0, "USD", is_test=True)
        )
    for src in listings.values():
        rng.shuffle(src)
    return Universe(seed=seed, credentials=creds, listings=listings)
