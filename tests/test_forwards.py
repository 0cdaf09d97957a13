"""The forward reader (FWD-1..3) against real-shaped forwards, one per mail client and
interface language, with exact expected fields (closeio/quotequail's tests are the model).

tests/forwards/tuned/ is the set the reader was built on; tests/forwards/heldout/ was written
and kept aside while building, then measured once (see the README's forward section).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from conftest import corpus_files
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from crmlog.model import Address, Forwarded, Rejected
from crmlog.parse import parse_for_inspection
from crmlog.rules.forward_layouts import LANGUAGES
from crmlog.rules.forward_values import addresses, is_forward_subject, parse_date, strip_prefixes
from crmlog.rules.forwards import inspect, read_forward
from crmlog.show.views import forward_report

HERE = Path(__file__).resolve().parent / "forwards"


def inspect_raw(data: bytes) -> Forwarded | Rejected:
    """What `crmlog forwards parse` finds in one raw message: read by the parse stage with its
    forward parts, then looked through by the forward reader."""
    return inspect(parse_for_inspection(data))


# file, from_address, from_name, subject, date, to, cc, client, note, first and last body line
FOUND = [
    (
        "tuned/gmail_en.eml",
        "li.wei@acme-industrial.com",
        "Li Wei",
        "Re: Quote for 200 pumps",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        ["anna.berg@acme-industrial.com"],
        "gmail",
        "FYI - they accept. Can you prepare the contract?",
        "Hi Bob,",
        "> please find our quote attached.",
    ),
    (
        "tuned/gmail_de.eml",
        "juergen.mueller@pumpen-werk.de",
        "Jürgen Müller",
        "AW: Angebot 200 Pumpen",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "gmail",
        "Zur Info",
        "Hallo Herr Smith,",
        "Jürgen Müller",
    ),
    (
        "tuned/gmail_zh.eml",
        "li.wei@acme.com.cn",
        "李伟",
        "回复: 报价",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "gmail",
        "请看下面",
        "Bob 您好，",
        "李伟",
    ),
    (
        "tuned/gmail_fr.eml",
        "elodie.dupre@pompes-lyon.fr",
        "Élodie Dupré",
        "RE: Devis 200 pompes",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "gmail",
        "Pour info",
        "Bonjour Bob,",
        "Élodie Dupré",
    ),
    (
        "tuned/gmail_ru.eml",
        "ivan.petrov@nasos.ru",
        "Иван Петров",
        "RE: Предложение",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "gmail",
        "",
        "Здравствуйте, Боб!",
        "Иван Петров",
    ),
    (
        "tuned/gmail_ja.eml",
        "hanako.tanaka@pump.co.jp",
        "田中 花子",
        "RE: お見積り",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "gmail",
        "ご確認ください。",
        "ボブ様",
        "田中 花子",
    ),
    (
        "tuned/gmail_android_en.eml",
        "li.wei@acme-industrial.com",
        "Li Wei",
        "Re: Quote for 200 pumps",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "gmail",
        "",
        "Hi Bob,",
        "Li Wei",
    ),
    (
        "tuned/gmail_android_de.eml",
        "juergen.mueller@pumpen-werk.de",
        "Jürgen Müller",
        "AW: Angebot 200 Pumpen",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "gmail",
        "Bitte ablegen",
        "Hallo Herr Smith,",
        "Jürgen Müller",
    ),
    (
        "tuned/gmail_android_zh.eml",
        "li.wei@acme.com.cn",
        "李伟",
        "回复: 报价",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "gmail",
        "",
        "Bob 您好，",
        "李伟",
    ),
    (
        "tuned/gmail_android_es.eml",
        "jose.nunez@bombas.es",
        "José Núñez",
        "RE: Oferta",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "gmail",
        "",
        "Hola Bob:",
        "José Núñez",
    ),
    (
        "tuned/iphone_en.eml",
        "li.wei@acme-industrial.com",
        "Li Wei",
        "Re: Quote for 200 pumps",
        "2021-03-09T15:12:05+00:00",
        ["bob@us.example"],
        ["anna.berg@acme-industrial.com"],
        "iphone-mail",
        "Log this please\n\nSent from my iPhone",
        "Hi Bob,",
        "Li Wei",
    ),
    (
        "tuned/iphone_de.eml",
        "juergen.mueller@pumpen-werk.de",
        "Jürgen Müller",
        "AW: Angebot 200 Pumpen",
        "2021-03-09T15:12:05+00:00",
        ["bob@us.example"],
        [],
        "iphone-mail",
        "Von meinem iPhone gesendet",
        "Hallo Herr Smith,",
        "Jürgen Müller",
    ),
    (
        "tuned/iphone_zh.eml",
        "li.wei@acme.com.cn",
        "李伟",
        "回复: 报价",
        "2021-03-09T08:12:05+00:00",
        ["bob@us.example"],
        [],
        "iphone-mail",
        "发自我的iPhone",
        "Bob 您好，",
        "李伟",
    ),
    (
        "tuned/ipad_es.eml",
        "jose.nunez@bombas.es",
        "José Núñez",
        "RE: Oferta",
        "2021-03-09T15:12:05+00:00",
        ["bob@us.example"],
        [],
        "iphone-mail",
        "Enviado desde mi iPad",
        "Hola Bob:",
        "José Núñez",
    ),
    (
        "tuned/iphone_ja.eml",
        "hanako.tanaka@pump.co.jp",
        "田中 花子",
        "RE: お見積り",
        "2021-03-09T07:12:05+00:00",
        ["bob@us.example"],
        [],
        "iphone-mail",
        "iPhoneから送信",
        "ボブ様",
        "田中 花子",
    ),
    (
        "tuned/apple_mail_en.eml",
        "li.wei@acme-industrial.com",
        "Li Wei",
        "Re: Quote for 200 pumps",
        "2021-03-09T15:12:05+00:00",
        ["bob@us.example"],
        ["anna.berg@acme-industrial.com"],
        "apple-mail",
        "",
        "Hi Bob,",
        "Li Wei",
    ),
    (
        "tuned/apple_mail_de.eml",
        "juergen.mueller@pumpen-werk.de",
        "Jürgen Müller",
        "AW: Angebot 200 Pumpen",
        "2021-03-09T15:12:05+00:00",
        ["bob@us.example"],
        [],
        "apple-mail",
        "Bitte im CRM ablegen.",
        "Hallo Herr Smith,",
        "Jürgen Müller",
    ),
    (
        "tuned/apple_mail_zh.eml",
        "li.wei@acme.com.cn",
        "李伟",
        "回复: 报价",
        "2021-03-09T08:12:05+00:00",
        ["bob@us.example"],
        [],
        "apple-mail",
        "",
        "Bob 您好，",
        "李伟",
    ),
    (
        "tuned/apple_mail_fr.eml",
        "elodie.dupre@pompes-lyon.fr",
        "Élodie Dupré",
        "RE: Devis 200 pompes",
        "2021-03-09T15:12:05+00:00",
        ["bob@us.example"],
        [],
        "apple-mail",
        "",
        "Bonjour Bob,",
        "Élodie Dupré",
    ),
    (
        "tuned/apple_mail_it.eml",
        "giulia.ricci@pompe.it",
        "Giulia Ricci",
        "R: Offerta",
        "2021-03-09T15:12:05+00:00",
        ["bob@us.example"],
        [],
        "apple-mail",
        "",
        "Ciao Bob,",
        "Giulia Ricci",
    ),
    (
        "tuned/apple_mail_pt.eml",
        "joao.goncalves@bombas.com.br",
        "João Gonçalves",
        "RES: Proposta",
        "2021-03-09T19:12:05+00:00",
        ["bob@us.example"],
        [],
        "apple-mail",
        "",
        "Olá Bob,",
        "João Gonçalves",
    ),
    (
        "tuned/outlook_en.eml",
        "li.wei@acme-industrial.com",
        "Li Wei",
        "RE: Quote for 200 pumps",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        ["anna.berg@acme-industrial.com"],
        "outlook",
        "Please log.",
        "Hi Bob,",
        "please find our quote attached.",
    ),
    (
        "tuned/outlook_2010_en.eml",
        "li.wei@acme-industrial.com",
        "Li Wei",
        "RE: Quote for 200 pumps",
        "2021-03-09T16:12:00",
        ["Bob Smith"],
        ["Anna Berg"],
        "outlook",
        "",
        "Hi Bob,",
        "Li Wei",
    ),
    (
        "tuned/outlook_de.eml",
        "juergen.mueller@pumpen-werk.de",
        "Müller, Jürgen",
        "AW: Angebot 200 Pumpen",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        ["anna.berg@pumpen-werk.de"],
        "outlook",
        "Hallo,\n\nzur Ablage.",
        "Hallo Herr Smith,",
        "Jürgen Müller",
    ),
    (
        "tuned/outlook_zh.eml",
        "li.wei@acme.com.cn",
        "李伟",
        "答复: 报价",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        ["wang.fang@acme.com.cn"],
        "outlook",
        "",
        "Bob 您好，",
        "李伟",
    ),
    (
        "tuned/outlook_fr.eml",
        "elodie.dupre@pompes-lyon.fr",
        "Élodie Dupré",
        "RE: Devis 200 pompes",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "outlook",
        "",
        "Bonjour Bob,",
        "Élodie Dupré",
    ),
    (
        "tuned/outlook_es.eml",
        "jose.nunez@bombas.es",
        "José Núñez",
        "RE: Oferta",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        ["ana.garcia@bombas.es"],
        "outlook",
        "",
        "Hola Bob:",
        "José Núñez",
    ),
    (
        "tuned/outlook_it.eml",
        "giulia.ricci@pompe.it",
        "Giulia Ricci",
        "R: Offerta",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "outlook",
        "",
        "Ciao Bob,",
        "Giulia Ricci",
    ),
    (
        "tuned/outlook_nl.eml",
        "daan.devries@pompen.nl",
        "Daan de Vries",
        "RE: Offerte",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "outlook",
        "",
        "Hallo Bob,",
        "Daan de Vries",
    ),
    (
        "tuned/outlook_pt.eml",
        "joao.goncalves@bombas.com.br",
        "João Gonçalves",
        "RES: Proposta",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "outlook",
        "",
        "Olá Bob,",
        "João Gonçalves",
    ),
    (
        "tuned/outlook_ru.eml",
        "ivan.petrov@nasos.ru",
        "Петров Иван",
        "RE: Предложение",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "outlook",
        "",
        "Здравствуйте, Боб!",
        "Иван Петров",
    ),
    (
        "tuned/outlook_ja.eml",
        "hanako.tanaka@pump.co.jp",
        "田中 花子",
        "RE: お見積り",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "outlook",
        "",
        "ボブ様",
        "田中 花子",
    ),
    (
        "tuned/outlook_com_en.eml",
        "li.wei@acme-industrial.com",
        "Li Wei",
        "Re: Quote for 200 pumps",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "outlook-com",
        "Logging this.",
        "Hi Bob,",
        "Li Wei",
    ),
    (
        "tuned/outlook_com_de.eml",
        "juergen.mueller@pumpen-werk.de",
        "Jürgen Müller",
        "AW: Angebot 200 Pumpen",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "outlook-com",
        "",
        "Hallo Herr Smith,",
        "Jürgen Müller",
    ),
    (
        "tuned/outlook_com_zh.eml",
        "li.wei@acme.com.cn",
        "李伟",
        "回复: 报价",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "outlook-com",
        "",
        "Bob 您好，",
        "李伟",
    ),
    (
        "tuned/yahoo_en.eml",
        "li.wei@acme-industrial.com",
        "Li Wei",
        "Re: Quote for 200 pumps",
        "2021-03-09T15:12:05+00:00",
        ["bob@us.example"],
        ["anna.berg@acme-industrial.com"],
        "yahoo",
        "",
        "Hi Bob,",
        "Li Wei",
    ),
    (
        "tuned/yahoo_de.eml",
        "juergen.mueller@pumpen-werk.de",
        "Jürgen Müller",
        "AW: Angebot 200 Pumpen",
        "2021-03-09T15:12:05+00:00",
        ["bob@us.example"],
        [],
        "yahoo",
        "Siehe unten",
        "Hallo Herr Smith,",
        "Jürgen Müller",
    ),
    (
        "tuned/yahoo_zh.eml",
        "li.wei@acme.com.tw",
        "李偉",
        "回覆: 報價",
        "2021-03-09T08:12:05+00:00",
        ["bob@us.example"],
        [],
        "yahoo",
        "",
        "Bob 您好，",
        "李偉",
    ),
    (
        "tuned/samsung_en.eml",
        "li.wei@acme-industrial.com",
        "Li Wei",
        "Re: Quote for 200 pumps",
        "2021-03-09T21:12:00+00:00",
        ["bob@us.example"],
        ["anna.berg@acme-industrial.com"],
        "samsung",
        "FYI\n\n\n\nSent from my Galaxy",
        "Hi Bob,",
        "Li Wei",
    ),
    (
        "tuned/samsung_de.eml",
        "juergen.mueller@pumpen-werk.de",
        "Jürgen Müller",
        "AW: Angebot 200 Pumpen",
        "2021-03-09T15:12:00+00:00",
        ["bob@us.example"],
        [],
        "samsung",
        "Von meinem Samsung Galaxy Smartphone gesendet.",
        "Hallo Herr Smith,",
        "Jürgen Müller",
    ),
    (
        "tuned/samsung_zh.eml",
        "li.wei@acme.com.cn",
        "李伟",
        "回复: 报价",
        "2021-03-09T08:12:00+00:00",
        ["bob@us.example"],
        [],
        "samsung",
        "",
        "Bob 您好，",
        "李伟",
    ),
    (
        "tuned/samsung_nl.eml",
        "daan.devries@pompen.nl",
        "Daan de Vries",
        "RE: Offerte",
        "2021-03-09T15:12:00+00:00",
        ["bob@us.example"],
        [],
        "samsung",
        "",
        "Hallo Bob,",
        "Daan de Vries",
    ),
    (
        "tuned/windows_live_mail_en.eml",
        "li.wei@acme-industrial.com",
        "Li Wei",
        "Re: Quote for 200 pumps",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        ["anna.berg@acme-industrial.com"],
        "windows-live-mail",
        "",
        "Hi Bob,",
        "Li Wei",
    ),
    (
        "tuned/windows_live_mail_de.eml",
        "juergen.mueller@pumpen-werk.de",
        "Jürgen Müller",
        "AW: Angebot 200 Pumpen",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "windows-live-mail",
        "",
        "Hallo Herr Smith,",
        "Jürgen Müller",
    ),
    (
        "tuned/windows_live_mail_zh.eml",
        "li.wei@acme.com.cn",
        "李伟",
        "回复: 报价",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "windows-live-mail",
        "",
        "Bob 您好，",
        "李伟",
    ),
    (
        "tuned/thunderbird_en.eml",
        "li.wei@acme-industrial.com",
        "Li Wei",
        "Re: Quote for 200 pumps",
        "2021-03-09T15:12:05+00:00",
        ["bob@us.example"],
        ["anna.berg@acme-industrial.com"],
        "thunderbird",
        "",
        "Hi Bob,",
        "Li Wei",
    ),
    (
        "tuned/thunderbird_de.eml",
        "juergen.mueller@pumpen-werk.de",
        "Jürgen Müller",
        "AW: Angebot 200 Pumpen",
        "2021-03-09T15:12:05+00:00",
        ["bob@us.example"],
        ["anna.berg@pumpen-werk.de", "nicole@pumpen-werk.de"],
        "thunderbird",
        "",
        "Hallo Herr Smith,",
        "Jürgen Müller",
    ),
    (
        "tuned/thunderbird_zh.eml",
        "li.wei@acme.com.cn",
        "李伟",
        "回复: 报价",
        "2021-03-09T08:12:05+00:00",
        ["bob@us.example"],
        [],
        "thunderbird",
        "",
        "Bob 您好，",
        "李伟",
    ),
    (
        "tuned/thunderbird_ru.eml",
        "ivan.petrov@nasos.ru",
        "Иван Петров",
        "RE: Предложение",
        "2021-03-09T13:12:05+00:00",
        ["bob@us.example"],
        [],
        "thunderbird",
        "",
        "Здравствуйте, Боб!",
        "Иван Петров",
    ),
    (
        "tuned/thunderbird_it.eml",
        "giulia.ricci@pompe.it",
        "Giulia Ricci",
        "R: Offerta",
        "2021-03-09T15:12:05+00:00",
        ["bob@us.example"],
        [],
        "thunderbird",
        "",
        "Ciao Bob,",
        "Giulia Ricci",
    ),
    (
        "tuned/thunderbird_html_en.eml",
        "li.wei@acme-industrial.com",
        "Li Wei",
        "Re: Quote for 200 pumps",
        "2021-03-09T15:12:05+00:00",
        ["bob@us.example"],
        [],
        "thunderbird",
        "See the customer's answer.",
        "Hi Bob,",
        "Li Wei",
    ),
    (
        "tuned/outlook_mac_en.eml",
        "li.wei@acme-industrial.com",
        "Li Wei",
        "Quote for 200 pumps",
        "2021-03-09T16:12:00",
        [],
        [],
        "quote-header",
        "",
        "Hi Bob,",
        "Li Wei",
    ),
    (
        "tuned/attachment_en.eml",
        "li.wei@acme-industrial.com",
        "Li Wei",
        "Re: Quote for 200 pumps",
        "2021-03-09T15:12:05+00:00",
        ["bob@us.example"],
        ["anna.berg@acme-industrial.com"],
        "attachment",
        "See attached reply.",
        "Hi Bob,",
        "Li Wei",
    ),
    (
        "tuned/outlook_mac_fr.eml",
        "elodie.dupre@pompes-lyon.fr",
        "Élodie Dupré",
        "Devis 200 pompes",
        "2021-03-09T16:12:00",
        [],
        [],
        "quote-header",
        "",
        "Bonjour Bob,",
        "Élodie Dupré",
    ),
    (
        "tuned/outlook_mac_ru.eml",
        "ivan.petrov@nasos.ru",
        "Иван Петров",
        "Предложение",
        "2021-03-09T16:12:00",
        [],
        [],
        "quote-header",
        "",
        "Здравствуйте, Боб!",
        "Иван Петров",
    ),
    (
        "tuned/webmail_ja.eml",
        "hanako.tanaka@pump.co.jp",
        "田中 花子",
        "RE: お見積り",
        "2021-03-09T07:12:05+00:00",
        ["bob@us.example"],
        [],
        "gmail",
        "",
        "ボブ様",
        "田中 花子",
    ),
    (
        "heldout/outlook_html_de.eml",
        "k.schneider@stahlbau-schneider.de",
        "Schneider, Klaus",
        "AW: Lieferung KW 12",
        "2021-03-15T08:47:00",
        ["bob@us.example"],
        ["m.wagner@stahlbau-schneider.de"],
        "outlook",
        "Zur Info.",
        "Sehr geehrter Herr Smith,",
        "Klaus Schneider",
    ),
    (
        "heldout/outlook_com_html_en.eml",
        "accounts@northwind-traders.co.uk",
        "Northwind Accounts",
        "Invoice 4471",
        "2021-04-02T11:05:00",
        ["bob@us.example"],
        [],
        "outlook",
        "",
        "Dear Bob,",
        "Northwind Traders Ltd",
    ),
    (
        "heldout/gmail_html_only_en.eml",
        "priya.sharma@globex.io",
        "Priya Sharma",
        "Re: Demo next week",
        "2021-05-11T09:03:00",
        ["bob@us.example", "tom@us.example"],
        [],
        "gmail",
        "Logging Priya's reply.",
        "Hi Bob,",
        "Priya",
    ),
    (
        "heldout/gmail_mailto_only_pt.eml",
        "ana.souza@ferragens.com.br",
        "Ana Souza",
        "Pedido 88",
        "2021-06-01T14:20:00",
        ["bob@us.example"],
        [],
        "gmail",
        "",
        "Bom dia Bob,",
        "Ana",
    ),
    (
        "heldout/apple_mail_html_ru.eml",
        "olga.smirnova@zavod.ru",
        "Ольга Смирнова",
        "Счёт",
        "2021-03-22T07:30:00+00:00",
        ["bob@us.example"],
        [],
        "apple-mail",
        "",
        "Добрый день!",
        "Ольга",
    ),
    (
        "heldout/ipad_fr.eml",
        "luc.martin@outils-martin.fr",
        "Luc Martin",
        "Commande",
        "2021-03-23T09:15:00+00:00",
        ["bob@us.example"],
        [],
        "iphone-mail",
        "Envoyé de mon iPad",
        "Bonjour,",
        "Luc",
    ),
    (
        "heldout/samsung_fr.eml",
        "luc.martin@outils-martin.fr",
        "Luc Martin",
        "Commande",
        "2021-03-23T09:15:00+00:00",
        ["bob@us.example"],
        [],
        "samsung",
        "Envoyé depuis mon smartphone Samsung Galaxy.",
        "Bonjour,",
        "Luc",
    ),
    (
        "heldout/thunderbird_html_de.eml",
        "petra.braun@braun-gmbh.de",
        "Petra Braun",
        "AW: Angebot",
        "2021-03-24T13:00:00+00:00",
        ["bob@us.example"],
        [],
        "thunderbird",
        "",
        "Hallo Bob,",
        "Petra",
    ),
    (
        "heldout/thunderbird_nl.eml",
        "sanne.jansen@jansen-bv.nl",
        "Sanne Jansen",
        "Re: Offerte",
        "2021-03-25T10:00:00+00:00",
        ["bob@us.example"],
        [],
        "thunderbird",
        "",
        "Beste Bob,",
        "Sanne",
    ),
    (
        "heldout/thunderbird_ja.eml",
        "sato@kikai.co.jp",
        "佐藤 健",
        "Re: 注文",
        "2021-03-26T01:00:00+00:00",
        ["bob@us.example"],
        [],
        "thunderbird",
        "",
        "ボブ様",
        "佐藤",
    ),
    (
        "heldout/outlook_zh_tw.eml",
        "chen.ming@taipei-pumps.com.tw",
        "陳明",
        "回覆: 報價",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "outlook",
        "",
        "Bob 您好，",
        "陳明",
    ),
    (
        "heldout/outlook_zh_shift.eml",
        "zhang.wei@shenzhen-parts.cn",
        "张伟",
        "答复: 发货",
        "2021-03-29T14:30:00",
        ["bob@us.example"],
        ["li.na@shenzhen-parts.cn"],
        "outlook",
        "请存档。",
        "Bob，你好：",
        "张伟",
    ),
    (
        "heldout/gmail_android_ja.eml",
        "suzuki@seimitsu.co.jp",
        "鈴木 一郎",
        "Re: 納期",
        "2021-03-30T17:45:00",
        ["bob@us.example"],
        [],
        "gmail",
        "",
        "ボブ様",
        "鈴木",
    ),
    (
        "heldout/yahoo_fr_html.eml",
        "marie.leroy@leroy-sa.fr",
        "Marie Leroy",
        "Re: Devis",
        "2021-03-31T13:20:00+00:00",
        ["bob@us.example"],
        [],
        "yahoo",
        "",
        "Bonjour Bob,",
        "Marie",
    ),
    (
        "heldout/windows_live_mail_it.eml",
        "marco.rossi@rossi-srl.it",
        "Marco Rossi",
        "Re: Ordine",
        "2021-04-01T09:10:00",
        ["bob@us.example"],
        [],
        "windows-live-mail",
        "",
        "Buongiorno Bob,",
        "Marco",
    ),
    (
        "heldout/gmail_de_quoted_history.eml",
        "t.becker@becker-ag.de",
        "Thomas Becker",
        "Re: Termin",
        "2021-04-06T10:30:00",
        ["bob@us.example"],
        [],
        "gmail",
        "",
        "Hallo Bob,",
        "> Treffen wir uns am Donnerstag?",
    ),
    (
        "heldout/outlook_en_history_below.eml",
        "j.doe@initech.com",
        "John Doe",
        "RE: Renewal",
        "2021-04-07T15:00:00",
        ["bob@us.example"],
        [],
        "outlook-com",
        "",
        "Bob,",
        "Can you send the renewal terms?",
    ),
    (
        "heldout/attachment_de.eml",
        "petra.braun@braun-gmbh.de",
        "Petra Braun",
        "AW: Angebot",
        "2021-03-24T13:00:00+00:00",
        ["bob@us.example"],
        [],
        "attachment",
        "Anbei die Antwort.",
        "Hallo Bob,",
        "Petra",
    ),
    (
        "heldout/reply_history_is_not_thread_es.eml",
        "jose.nunez@bombas.es",
        "José Núñez",
        "RE: Oferta",
        "2021-03-09T16:12:00",
        ["bob@us.example"],
        [],
        "outlook",
        "",
        "Hola Bob:",
        "Enviamos la oferta revisada.",
    ),
]

REJECTED = [
    ("tuned/thread_two_forwards_gmail_en.eml", "forward-is-thread"),
    ("tuned/thread_nested_subject_outlook_de.eml", "forward-is-thread"),
    ("tuned/thread_opens_with_separator_apple_zh.eml", "forward-is-thread"),
    ("tuned/thread_own_reply_outlook_en.eml", "forward-is-thread"),
    ("tuned/thread_two_attachments.eml", "forward-is-thread"),
    ("tuned/thread_forwarded_forward_iphone_en.eml", "forward-is-thread"),
    ("tuned/none_plain_note.eml", "forward-not-recognized"),
    ("tuned/none_cut_header.eml", "forward-not-recognized"),
    ("heldout/gmail_es_name_only.eml", "forward-not-recognized"),
    ("heldout/thread_gmail_conversation_zh.eml", "forward-is-thread"),
    ("heldout/thread_outlook_fwd_subject_fr.eml", "forward-is-thread"),
    ("heldout/thread_apple_two_blocks_en.eml", "forward-is-thread"),
    ("heldout/thread_own_reply_gmail_ru.eml", "forward-is-thread"),
]


def report(name: str) -> dict:
    return forward_report(inspect_raw((HERE / name).read_bytes()))


def body_ends(body: str) -> tuple[str, str]:
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    return lines[0], lines[-1]


@pytest.mark.parametrize(
    "name, from_address, from_name, subject, date, to, cc, client, note, first, last",
    FOUND,
    ids=[row[0] for row in FOUND],
)
def test_fwd_1_finds_the_forwarded_message(
    name, from_address, from_name, subject, date, to, cc, client, note, first, last
):
    r = report(name)
    assert (r["status"], r["code"]) == ("ok", None), r["reason"]
    assert r["from_address"] == from_address
    assert (r["from_name"] or "") == from_name
    assert r["subject"] == subject
    assert r["date"] == date
    assert r["to"] == to
    assert r["cc"] == cc
    assert r["client"] == client
    assert r["note"] == note
    assert body_ends(r["body"]) == (first, last)


@pytest.mark.parametrize("name, code", REJECTED, ids=[row[0] for row in REJECTED])
def test_fwd_2_fwd_3_rejects_what_is_not_one_forwarded_reply(name, code):
    r = report(name)
    assert (r["status"], r["code"]) == ("rejected", code)
    assert r["reason"] and r["from_address"] is None and r["body"] is None


def test_fwd_1_every_client_is_covered_in_en_de_zh_and_every_language_somewhere():
    """The sample set covers what FWD-1 names (the note's client x language table)."""
    clients = {
        "gmail",
        "gmail_android",
        "iphone",
        "apple_mail",
        "outlook",
        "outlook_com",
        "yahoo",
        "samsung",
        "windows_live_mail",
        "thunderbird",
    }
    names = {p.stem for p in (HERE / "tuned").glob("*.eml")}
    for client in clients:
        for lang in ("en", "de", "zh"):
            assert f"{client}_{lang}" in names or (client == "iphone" and f"ipad_{lang}" in names), (client, lang)
    for lang in ("fr", "es", "it", "nl", "pt", "ru", "ja"):
        assert any(n.endswith("_" + lang) for n in names), lang


def test_fwd_2_reason_says_what_was_expected():
    r = forward_report(inspect_raw(b"From: bob@us.example\nTo: fwd@crm.example.com\nSubject: x\n\njust a note\n"))
    assert r["code"] == "forward-not-recognized"
    assert "Forwarded message" in r["reason"] and "Original Message" in r["reason"]


def test_fwd_2_a_separator_without_its_header_says_so():
    r = report("tuned/none_cut_header.eml")
    assert "separator" in r["reason"] and "no From line" in r["reason"]


def test_fwd_3_a_forward_of_the_forwarders_own_reply_is_a_thread():
    r = report("tuned/thread_own_reply_outlook_en.eml")
    assert r["code"] == "forward-is-thread" and "bob@us.example" in r["reason"]


def test_fwd_3_quoted_history_inside_the_reply_is_not_a_thread():
    # "On ... wrote:" with > lines, and Outlook's From/Sent block of the original below
    assert report("tuned/gmail_en.eml")["status"] == "ok"
    assert report("tuned/outlook_en.eml")["status"] == "ok"
    assert report("heldout/reply_history_is_not_thread_es.eml")["status"] == "ok"


# ------------------------------------------------------------------ the pieces


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Li Wei <li.wei@acme.com>", [("li.wei@acme.com", "Li Wei")]),
        ("Li Wei [mailto:li.wei@acme.com]", [("li.wei@acme.com", "Li Wei")]),
        ("li.wei@acme.com", [("li.wei@acme.com", "")]),
        (
            '"Wei, Li" <li.wei@acme.com>, Bob <bob@us.example>',
            [("li.wei@acme.com", "Wei, Li"), ("bob@us.example", "Bob")],
        ),
        (
            "Wei, Li <li.wei@acme.com>; Smith, Bob <bob@us.example>",
            [("li.wei@acme.com", "Wei, Li"), ("bob@us.example", "Smith, Bob")],
        ),
        ("Li Wei <li.wei@acme.com<mailto:li.wei@acme.com>>", [("li.wei@acme.com", "Li Wei")]),
        ("Li Wei", [("", "Li Wei")]),
        ("LI.WEI+crm@ACME.com", [("li.wei@acme.com", "")]),  # ADDR-1 normaliser
        ("", []),
    ],
)
def test_addresses_as_clients_print_them(value, expected):
    assert addresses(value) == tuple(Address(email=e, name=n) for e, n in expected)


@pytest.mark.parametrize(
    "value, languages, expected",
    [
        ("Tue, 9 Mar 2021 16:12:05 +0100", (), "2021-03-09T15:12:05+00:00"),
        ("Tuesday, March 9, 2021 4:12 PM", ("en",), "2021-03-09T16:12:00"),
        ("Di., 9. März 2021 um 16:12 Uhr", ("de",), "2021-03-09T16:12:00"),
        ("09.03.21 16:12 (GMT+01:00)", ("de",), "2021-03-09T15:12:00+00:00"),
        ("2021年3月9日周二 下午4:12", ("zh",), "2021-03-09T16:12:00"),
        ("2021年3月9日 GMT+8 下午4:12:05", ("zh",), "2021-03-09T08:12:05+00:00"),
        ("mardi 9 mars 2021 16:12", ("fr",), "2021-03-09T16:12:00"),
        ("martes, 9 de marzo de 2021 16:12", ("es",), "2021-03-09T16:12:00"),
        ("martedì 9 marzo 2021 16:12", ("it",), "2021-03-09T16:12:00"),
        ("dinsdag 9 maart 2021 16:12", ("nl",), "2021-03-09T16:12:00"),
        ("terça-feira, 9 de março de 2021 16:12", ("pt",), "2021-03-09T16:12:00"),
        ("вт, 9 мар. 2021 г. в 16:12", ("ru",), "2021-03-09T16:12:00"),
        ("2021年3月9日 16:12:05 JST", ("ja",), "2021-03-09T07:12:05+00:00"),
        ("sometime last spring", ("en",), "sometime last spring"),  # kept as written
        ("yesterday", ("en",), "yesterday"),  # never read against the clock
        ("March 9", ("en",), "March 9"),  # no year: never filled in from today
    ],
)
def test_fwd_4_dates_in_every_language_to_iso(value, languages, expected):
    assert parse_date(value, languages) == expected


def test_fwd_4_dates_are_never_read_against_the_clock(monkeypatch):
    """dateparser reads the clock for what a date leaves out (its "now"); a forwarded date is
    read the same whenever it is read: relative dates and dates missing a part are kept as
    written, and dateparser is never asked for the current time."""
    import dateparser.date
    import dateparser.parser

    asked = []
    for module in (dateparser.date, dateparser.parser):
        monkeypatch.setattr(module, "_now", lambda *args, **kwargs: asked.append(args) or datetime(2030, 6, 1))
    for value, languages in [
        ("yesterday", ("en",)),
        ("2 hours ago", ("en",)),
        ("vor 2 Stunden", ("de",)),
        ("gestern", ("de",)),
        ("heute um 10:00", ("de",)),
        ("today 10:00", ("en",)),
        ("Monday 4:12 PM", ("en",)),
        ("16:12", ("de",)),
        ("9. März", ("de",)),
        ("昨天 10:00", ("zh",)),
    ]:
        assert parse_date(value, languages) == value
    assert parse_date("09.03.21 16:12", ("de",)) == "2021-03-09T16:12:00"  # a two-digit year: never shifted
    assert parse_date("Tue, Mar 9, 2021 at 4:12 PM", ("en",)) == "2021-03-09T16:12:00"
    assert asked == []


@pytest.mark.parametrize(
    "subject, forward, stripped",
    [
        ("Fwd: Re: Quote", True, "Quote"),
        ("FW: RE: Quote", True, "Quote"),
        ("WG: AW: Angebot", True, "Angebot"),
        ("TR: RE: Devis", True, "Devis"),
        ("RV: RE: Oferta", True, "Oferta"),
        ("I: R: Offerta", True, "Offerta"),
        ("ENC: RES: Proposta", True, "Proposta"),
        ("转发: 答复: 报价", True, "报价"),
        ("轉寄: 回覆: 報價", True, "報價"),
        ("転送: お見積り", True, "お見積り"),
        ("Re: Quote", False, "Quote"),
        ("Fwd[2]: Quote", True, "Quote"),
        ("Information on pricing", False, "Information on pricing"),
    ],
)
def test_fwd_3_forward_prefixes_of_every_language(subject, forward, stripped):
    assert is_forward_subject(subject) is forward
    assert strip_prefixes(subject) == stripped


def test_layouts_every_label_means_one_field():
    seen: dict[str, str] = {}
    for lang in LANGUAGES:
        assert {"from", "date", "to", "cc", "subject"} <= lang.labels.keys(), lang.code
        for field, labels in lang.labels.items():
            for label in labels:
                assert seen.setdefault(label.casefold(), field) == field, (lang.code, label)


def test_fwd_1_a_wrote_line_wrapped_onto_two_lines():
    found = read_forward("fyi\n\nOn Tue, Mar 9, 2021 at 4:12 PM Li Wei\n<li.wei@acme.example> wrote:\n\n> We accept.\n")
    assert not isinstance(found, Rejected)
    assert (found.sender, found.date, found.note, found.body) == (
        Address(email="li.wei@acme.example", name="Li Wei"),
        "2021-03-09T16:12:00",
        "fyi",
        "We accept.",
    )


INNER = (
    b"From: Li Wei <li.wei@acme.example>\nTo: bob@us.example\nSubject: Re: Quote\n"
    b"Date: Tue, 9 Mar 2021 16:12:05 +0100\nMessage-ID: <r1@acme.example>\n\nWe accept.\n"
)


def outer(body: str, *parts: bytes, html: str | None = None) -> bytes:
    """A forward from bob@us.example: a text part (and an HTML part), then attached messages."""
    head = b"From: Bob <bob@us.example>\nTo: fwd@crm.example.com\nSubject: Fwd: x\nMIME-Version: 1.0\n"
    head += (
        b'Content-Type: multipart/mixed; boundary="o"\n\n--o\nContent-Type: text/plain; charset=utf-8\n\n'
        + body.encode()
        + b"\n"
    )
    if html is not None:
        head += b"--o\nContent-Type: text/html; charset=utf-8\n\n" + html.encode() + b"\n"
    for p in parts:
        head += b"--o\nContent-Type: message/rfc822\n\n" + p + b"\n"
    return head + b"--o--\n"


def test_fwd_3_an_attached_message_holding_another_attached_message_is_a_thread():
    nested = (
        b"From: Li Wei <li.wei@acme.example>\nTo: bob@us.example\nSubject: Re: Quote\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="i"\n\n--i\nContent-Type: text/plain\n\nsee below\n'
        b"--i\nContent-Type: message/rfc822\n\n" + INNER + b"\n--i--\n"
    )
    r = forward_report(inspect_raw(outer("see attached", nested)))
    assert r["code"] == "forward-is-thread" and "itself a forward" in r["reason"]


def test_fwd_3_an_attached_message_and_an_inline_forward_are_two():
    inline = "---------- Forwarded message ---------\nFrom: Anna <anna@acme.example>\nSubject: Re: Quote\n\nOK\n"
    assert forward_report(inspect_raw(outer(inline, INNER)))["code"] == "forward-is-thread"


def test_fwd_1_attached_message_note_is_only_what_the_forwarder_wrote():
    r = forward_report(inspect_raw(outer("See the attached reply.", INNER)))
    assert (r["status"], r["client"], r["from_address"], r["note"], r["body"]) == (
        "ok",
        "attachment",
        "li.wei@acme.example",
        "See the attached reply.",
        "We accept.",
    )


def test_fwd_1_html_part_is_read_when_the_text_part_holds_no_forward():
    html = (
        '<p>FYI</p><div>---------- Forwarded message ---------<br>From: <a href="mailto:li.wei@acme.example">Li Wei</a>'
        "<br>Date: Tue, Mar 9, 2021 at 4:12 PM<br>Subject: Re: Quote<br>To: bob@us.example</div><p>We accept.</p>"
    )
    r = forward_report(inspect_raw(outer("This message is in HTML.", html=html)))
    assert (r["status"], r["from_address"], r["from_name"], r["note"], r["body"]) == (
        "ok",
        "li.wei@acme.example",
        "Li Wei",
        "FYI",
        "We accept.",
    )


def test_lim_3_a_long_forwarded_body_is_kept_whole():
    body = "".join(f"line {i} of a long price list: 12.50 EUR\n" for i in range(20_000))  # ~800 kB
    text = "---------- Forwarded message ---------\nFrom: Li <li@acme.example>\nSubject: Prices\n\n" + body
    found = read_forward(text)
    assert not isinstance(found, Rejected) and found.body == body.strip()


# ------------------------------------------------------------------ never a crash


@hsettings(max_examples=300, deadline=None)
@given(st.text())
def test_forwards_parse_never_crashes_on_arbitrary_text(text):
    r = forward_report(inspect_raw(text.encode("utf-8", "surrogatepass")))
    assert r["status"] in ("ok", "rejected")


LANDMARKS = [
    "---------- Forwarded message ---------",
    "-----Original Message-----",
    "Begin forwarded message:",
    "From: Li <li@acme.com>",
    "> From: Li <li@acme.com>",
    "Date: Tue, 9 Mar 2021 16:12:05 +0100",
    "Subject: Fwd: x",
    "To: bob@us.example",
    "发件人: 李 <li@acme.cn>",
    "On Mon, Jan 4, 2021 Li <li@acme.com> wrote:",
    "________________________________",
    "",
    "> ",
    "body text",
]


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(LANDMARKS) | st.text(max_size=40), max_size=30))
def test_forwards_parse_never_crashes_on_shuffled_forward_pieces(lines):
    r = forward_report(inspect_raw(("\n".join(lines)).encode("utf-8", "surrogatepass")))
    assert r["status"] in ("ok", "rejected")
    if r["status"] == "ok":
        assert r["from_address"] and "@" in r["from_address"]


CORPUS = corpus_files()


@pytest.mark.parametrize("path", CORPUS or [None], ids=[str(p.name) for p in CORPUS] or ["absent"])
def test_forwards_parse_reads_every_real_message(path):
    if path is None:
        pytest.skip("the real-mail corpus is not beside this checkout")
    r = forward_report(inspect_raw(path.read_bytes()))
    assert r["status"] in ("ok", "rejected") and json.dumps(r)


# ------------------------------------------------------------------ through the real CLI

KEYS = {
    "status",
    "code",
    "reason",
    "from_address",
    "from_name",
    "to",
    "cc",
    "subject",
    "date",
    "body",
    "note",
    "client",
}


def test_forwards_parse_cli_file_and_stdin_need_no_database(cli):
    sample = HERE / "tuned" / "outlook_zh.eml"
    by_file = cli.json("forwards", "parse", str(sample))
    by_stdin = json.loads(cli("forwards", "parse", "-", "--json", input=sample.read_bytes()).stdout)
    assert by_file == by_stdin and set(by_file) == KEYS
    assert (by_file["from_address"], by_file["subject"], by_file["client"]) == (
        "li.wei@acme.com.cn",
        "答复: 报价",
        "outlook",
    )
    assert not cli.crm_exists() and not cli.config.exists()


def test_forwards_parse_cli_exits_0_when_rejected_and_says_why(cli):
    result = cli("forwards", "parse", str(HERE / "tuned" / "thread_two_forwards_gmail_en.eml"))
    assert "forward-is-thread" in result.stdout and "more than one forwarded message" in " ".join(result.stdout.split())
    assert (
        cli.json("forwards", "parse", str(HERE / "tuned" / "none_plain_note.eml"))["code"] == "forward-not-recognized"
    )


def test_forwards_parse_cli_missing_file_is_a_usage_error(cli):
    result = cli("forwards", "parse", str(HERE / "nope.eml"), expect=2)
    assert "nope.eml" in result.stderr


def test_fwd_4_ingest_logs_forwards_on_the_original_sender(cli, tmp_path):
    from conftest import make_maildir

    cli.init()
    cli("users", "add", "bob@us.example", "--name", "Bob Smith", "--inbox", "bob@us.example")
    names = ["gmail_en", "outlook_zh", "attachment_en", "thread_two_forwards_gmail_en", "none_plain_note"]
    maildir = make_maildir(
        tmp_path / "Maildir",
        {"": [(f"{i}.host:2,S", (HERE / "tuned" / f"{n}.eml").read_bytes()) for i, n in enumerate(names)]},
    )
    summary = cli.json("ingest", str(maildir), "--quiet")
    assert (summary["logged"], summary["rejected"]) == (3, 2)
    assert summary["rejections"] == {"forward-is-thread": 1, "forward-not-recognized": 1}

    li = cli.json("contacts", "show", "li.wei@acme-industrial.com")
    assert (li["source"], li["company"]) == ("forward-sender", "acme-industrial.com")
    assert [e["path"] for e in li["emails"]] == ["forward", "forward"]
    assert {e["subject"] for e in li["emails"]} == {"Re: Quote for 200 pumps"}
    # FWD-5: the forwarded Cc is no contact
    assert "anna.berg@acme-industrial.com" not in {c["email"] for c in cli.json("contacts", "list")}

    shown = cli.json("emails", "show", li["emails"][-1]["message_id"])
    assert shown["from"] == "li.wei@acme-industrial.com" and shown["user"] == "bob@us.example"
    assert shown["forward"]["forwarded_by"] == "bob@us.example"
    assert shown["text"].startswith("Hi Bob,")
    notes = {cli.json("emails", "show", e["message_id"])["forward"]["note"] for e in li["emails"]}
    assert notes == {"FYI - they accept. Can you prepare the contract?", "See attached reply."}
    assert cli.json("contacts", "show", "li.wei@acme.com.cn")["emails"][0]["date"] == "2021-03-09T16:12:00"
    by_user = {row["user"]: row for row in cli.json("attribution")}
    assert by_user["bob@us.example"]["forward"] == 3


def test_fwd_4_a_forwarded_date_that_cannot_be_read_is_kept_and_counted_by_forward_time(cli, tmp_path):
    from conftest import FWD, eml

    cli.init()
    cli("users", "add", "bob@us.example", "--inbox", "bob@us.example")
    text = (
        "---------- Forwarded message ---------\nFrom: Li Wei <li.wei@acme-industrial.com>\n"
        "Date: the day after the fair\nSubject: Re: Quote\nTo: bob@us.example\n\n\nWe accept.\n"
    )
    mbox = tmp_path / "in.mbox"
    mbox.write_bytes(
        b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n"
        + eml(frm="bob@us.example", to=FWD, subject="Fwd: Re: Quote", body=text, date="Wed, 10 Mar 2021 09:30:00 +0100")
    )
    assert cli.json("ingest", str(mbox), "--quiet")["logged"] == 1
    assert cli.json("contacts", "show", "li.wei@acme-industrial.com")["emails"][0]["date"] == "the day after the fair"
    counted = {
        r["user"]: r["forward"] for r in cli.json("attribution", "--since", "2021-03-10", "--until", "2021-03-11")
    }
    assert counted == {"bob@us.example": 1}
    assert {r["user"]: r["forward"] for r in cli.json("attribution", "--since", "2022-01-01")} == {"bob@us.example": 0}
