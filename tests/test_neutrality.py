"""Titles and addresses show up in the browser's history list and the task
switcher, so they must never carry a sensitive word, in any language."""

import json
import re
from html.parser import HTMLParser

from server.i18n import LANGUAGES

FORBIDDEN: dict[str, list[str]] = {
    "en": [
        "traffick",
        "exploit",
        "victim",
        "police",
        "help",
        "request",
        "self-check",
        "abuse",
        "slave",
        "forced",
        "rescue",
        "escape",
        "shelter",
        "haven",
        "crime",
        "rights",
        "safety",
        "danger",
        "emergency",
        "check",
        "question",
    ],
    "nl": [
        "mensenhandel",
        "uitbuit",
        "slachtoffer",
        "politie",
        "hulp",
        "aanvraag",
        "zelftest",
        "misbruik",
        "slaaf",
        "slavernij",
        "gedwongen",
        "opvang",
        "noodgeval",
        "misdaad",
        "rechten",
        "veiligheid",
        "gevaar",
        "vragen",
    ],
    "fr": [
        "traite",
        "exploit",
        "victime",
        "police",
        "aide",
        "demande",
        "auto-test",
        "abus",
        "esclav",
        "forcé",
        "refuge",
        "hébergement",
        "urgence",
        "crime",
        "droits",
        "sécurité",
        "danger",
        "questions",
    ],
    "de": [
        "menschenhandel",
        "ausbeut",
        "opfer",
        "polizei",
        "hilfe",
        "anfrage",
        "selbsttest",
        "missbrauch",
        "sklav",
        "zwang",
        "notfall",
        "unterkunft",
        "verbrechen",
        "rechte",
        "sicherheit",
        "gefahr",
        "fragen",
    ],
    "ro": [
        "trafic",
        "exploat",
        "victim",
        "poliți",
        "politi",
        "ajut",
        "cerer",
        "autotest",
        "test",
        "abuz",
        "sclav",
        "forțat",
        "fortat",
        "obligat",
        "constrân",
        "constran",
        "adăpost",
        "adapost",
        "urgen",
        "infracți",
        "infracti",
        "crim",
        "drept",
        "siguranț",
        "siguranta",
        "securitat",
        "pericol",
        "primejd",
        "întreb",
        "intreb",
    ],
    "bg": [
        "трафик",
        "експлоат",
        "жертв",
        "полиц",
        "помощ",
        "помаг",
        "помогн",
        "молб",
        "заявк",
        "искане",
        "самопровер",
        "тест",
        "злоупотреб",
        "насил",
        "роб",
        "принуд",
        "принудит",
        "приют",
        "убежищ",
        "подслон",
        "спешн",
        "престъп",
        "права",
        "безопас",
        "сигурн",
        "опасн",
        "опасност",
        "въпрос",
    ],
    "ar": [
        "اتجار",
        "إتجار",
        "متاجرة",
        "تهريب",
        "استغلال",
        "مستغل",
        "ضحية",
        "ضحايا",
        "شرطة",
        "بوليس",
        "مساعد",
        "نجدة",
        "إغاثة",
        "طلب",
        "اختبار",
        "فحص",
        "إساءة",
        "اعتداء",
        "تعنيف",
        "عبودي",
        "عبيد",
        "استعباد",
        "قسري",
        "إجبار",
        "مجبر",
        "إكراه",
        "مأوى",
        "ملجأ",
        "طوارئ",
        "طارئ",
        "جريم",
        "جرائم",
        "حقوق",
        "أمان",
        "آمن",
        "سلامة",
        "خطر",
        "أسئلة",
        "سؤال",
    ],
    "pt-BR": [
        "tráfic",
        "trafic",
        "explor",
        "vítim",
        "vitim",
        "políc",
        "polic",
        "ajud",
        "socorr",
        "pedid",
        "solicit",
        "autotest",
        "teste",
        "abus",
        "escrav",
        "forçad",
        "obrig",
        "abrig",
        "acolh",
        "emergênc",
        "emergenc",
        "urgênc",
        "crim",
        "direit",
        "segur",
        "proteç",
        "proteg",
        "perig",
        "pergunt",
        "question",
    ],
    "es": [
        "trata",
        "tráfic",
        "trafic",
        "explot",
        "víctim",
        "victim",
        "polic",
        "ayud",
        "auxili",
        "socorr",
        "solicit",
        "petici",
        "pedid",
        "autotest",
        "test",
        "autoevalu",
        "abus",
        "maltrat",
        "esclav",
        "forzad",
        "oblig",
        "refugi",
        "albergu",
        "acogid",
        "emergenc",
        "urgenc",
        "crim",
        "delit",
        "derech",
        "segur",
        "protec",
        "proteg",
        "peligr",
        "riesg",
        "pregunt",
        "cuestionari",
    ],
    "uk": [
        "торгівл",
        "торгуван",
        "трафікінг",
        "експлуат",
        "жертв",
        "постражд",
        "поліці",
        "допомог",
        "запит",
        "звернен",
        "самоперевір",
        "тест",
        "насильств",
        "зловжив",
        "кривд",
        "рабств",
        "раби",
        "невільн",
        "примус",
        "змуш",
        "притул",
        "прихист",
        "екстрен",
        "надзвичайн",
        "злочин",
        "права",
        "правов",
        "безпек",
        "безпечн",
        "небезпек",
        "загроз",
        "питан",
    ],
    "ru": [
        "торговл",
        "трафик",
        "эксплуат",
        "жертв",
        "пострадав",
        "полиц",
        "помощ",
        "помог",
        "запрос",
        "заявк",
        "обращени",
        "самопровер",
        "тест",
        "насили",
        "злоупотреб",
        "рабств",
        "рабын",
        "невольн",
        "принуд",
        "вынужд",
        "убежищ",
        "приют",
        "экстрен",
        "чрезвычайн",
        "преступ",
        "прав",
        "безопасн",
        "опасн",
        "вопрос",
    ],
    "zh-Hans": [
        "贩运",
        "贩卖",
        "拐卖",
        "人贩",
        "剥削",
        "受害",
        "警察",
        "警方",
        "报警",
        "帮助",
        "求助",
        "援助",
        "救助",
        "请求",
        "申请",
        "自测",
        "自我检测",
        "检测",
        "虐待",
        "奴隶",
        "奴役",
        "强迫",
        "被迫",
        "庇护",
        "收容",
        "避难",
        "紧急",
        "急救",
        "犯罪",
        "罪",
        "权利",
        "权益",
        "安全",
        "危险",
        "问题",
    ],
    "vi": [
        "mua bán người",
        "buôn người",
        "buôn bán người",
        "bóc lột",
        "nạn nhân",
        "cảnh sát",
        "công an",
        "giúp",
        "hỗ trợ",
        "cứu",
        "yêu cầu",
        "đề nghị",
        "tự kiểm tra",
        "lạm dụng",
        "ngược đãi",
        "nô lệ",
        "cưỡng bức",
        "ép",
        "tạm lánh",
        "trú ẩn",
        "khẩn cấp",
        "tội",
        "quyền",
        "an toàn",
        "nguy hiểm",
        "câu hỏi",
    ],
    "ti": [
        "ምዝውዋር",
        "ዝውውር",
        "ምዝመዛ",
        "መዝመዝ",
        "ምዝምዛ",
        "ዝምዝም",
        "መዝማዚ",
        "ግዳይ",
        "ግዳያት",
        "ፖሊስ",
        "ሓገዝ",
        "ሕግዝ",
        "ሓግዝ",
        "ረድኤት",
        "ጠለብ",
        "ሕቶ",
        "ፈተነ",
        "ፍተሻ",
        "ፈትሽ",
        "ግፍዒ",
        "ዓመጽ",
        "ምግሃስ",
        "ባርያ",
        "ባርነት",
        "ግዳዳ",
        "ብግዲ",
        "ግደድ",
        "ግዳድ",
        "መዕቆቢ",
        "መዕቈቢ",
        "ህጹጽ",
        "ገበን",
        "መሰል",
        "ውሕስነት",
        "ውሑስ",
        "ድሕንነት",
        "ሓደጋ",
    ],
    "sq": [
        "trafik",
        "shfrytëz",
        "shfrytez",
        "viktim",
        "polic",
        "ndihm",
        "kërkes",
        "kerkes",
        "vetëkontroll",
        "vetekontroll",
        "test",
        "abuz",
        "keqtrajt",
        "skllav",
        "detyr",
        "forc",
        "streh",
        "urgjenc",
        "emergjenc",
        "krim",
        "të drejt",
        "te drejt",
        "drejtat",
        "sigur",
        "rrezik",
        "pyetj",
    ],
    "pl": [
        "handel",
        "handl",
        "wyzysk",
        "wykorzyst",
        "ofiar",
        "poszkodowan",
        "polic",
        "pomoc",
        "pomag",
        "pomóc",
        "pomóż",
        "prośb",
        "wnios",
        "zgłos",
        "zgłoś",
        "test",
        "samoocen",
        "przemoc",
        "nadużyc",
        "krzywd",
        "niewol",
        "przymus",
        "zmusz",
        "schron",
        "azyl",
        "nagł",
        "alarm",
        "ratunk",
        "przestęp",
        "zbrodn",
        "praw",
        "bezpiecz",
        "zagroż",
        "pyta",
    ],
}
# A title may be read by someone who knows any of the languages.
ALL_FORBIDDEN = sorted({word for words in FORBIDDEN.values() for word in words})


class _Title(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.inside = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.title += data


def title_of(html: str) -> str:
    parser = _Title()
    parser.feed(html)
    return parser.title.strip()


def assert_neutral(text: str, where: str) -> None:
    lowered = text.lower()
    found = [word for word in ALL_FORBIDDEN if word in lowered]
    assert not found, f"{where}: {text!r} contains {found}"


def test_every_language_has_a_word_list() -> None:
    assert set(FORBIDDEN) == set(LANGUAGES)


def test_titles_and_addresses_are_neutral(app_session) -> None:  # type: ignore[no-untyped-def]
    pages = app_session.state.haven.site.pages
    assert len(pages) >= 10 * len(LANGUAGES)
    for path, representation in pages.items():
        assert_neutral(path, "address")
        if not representation.media_type.startswith("text/html"):
            continue
        title = title_of(representation.body.decode())
        assert title, path
        assert_neutral(title, f"title of {path}")
        assert re.fullmatch(r"[\w ·]{1,20}", title), title


def test_error_pages_and_post_results_are_neutral(client) -> None:  # type: ignore[no-untyped-def]
    for lang in LANGUAGES:
        missing = client.get(f"/{lang}/p/99")
        assert missing.status_code == 404
        assert_neutral(title_of(missing.text), "404 title")
        result = client.post(f"/{lang}/q", data={"q-forced": "yes", "q-pay": "yes"})
        assert_neutral(title_of(result.text), "result title")


def test_installed_name_is_neutral(client) -> None:  # type: ignore[no-untyped-def]
    manifest = json.loads(client.get("/manifest.webmanifest").text)
    for field in ("name", "short_name", "description", "id", "start_url"):
        assert_neutral(str(manifest[field]), f"manifest {field}")


DISGUISE_WORDS = ["haven", "info", "help", "hulp", "aide", "hilfe", "exit", "unlock", "code"]


def test_each_disguise_is_neutral_everywhere(client) -> None:  # type: ignore[no-untyped-def]
    """Manifest, page, script and style of a disguise never name the app or its purpose."""
    ids = set()
    for name in ("calculator", "notes"):
        manifest = json.loads(client.get(f"/{name}.webmanifest").text)
        ids.add(manifest["id"])
        assert manifest["id"] == f"/{name}"  # stable for ever: see server/assets.py
        assert manifest["start_url"].startswith(f"/{name}")
        assert manifest["scope"] == "/" and manifest["display"] == "standalone"
        for field in ("name", "short_name", "description", "id", "start_url"):
            assert_neutral(str(manifest[field]), f"{name} manifest {field}")
            assert not any(word in str(manifest[field]).lower() for word in DISGUISE_WORDS)
        page = client.get(f"/{name}")
        assert page.status_code == 200
        assert f'<link rel="manifest" href="/{name}.webmanifest">' in page.text
        title = title_of(page.text)
        assert title == manifest["name"]
        visible = re.sub(r"<[^>]+>", " ", page.text.split("<body", 1)[1]).lower()
        assert_neutral(visible, f"{name} page")
        for icon in manifest["icons"]:
            assert client.get(icon["src"]).headers["content-type"] == "image/png"
    assert len(ids) == 2
    # The notes disguise's words, in every language, are as harmless as its page.
    words = client.get("/static/disguise/notes-texts.js").text
    assert all(code in words for code in LANGUAGES)
    assert_neutral(words, "the notes disguise's words")
    assert not any(word in words.lower() for word in DISGUISE_WORDS)


def test_install_lists_the_disguises(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/install", headers={"Accept-Language": "fr-BE"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/fr/p/9"
    page = client.get("/fr/p/9").text
    assert 'href="/calculator"' in page and 'href="/notes"' in page
    assert_neutral(title_of(page), "install title")
