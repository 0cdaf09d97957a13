"""How mail clients lay out a forward, as data: one entry per interface language.

`forwards.py` reads these tables and nothing else knows a label or a separator phrase. To add
a language, add one `Language` below (and a sample under tests/forwards/).

Sources: the clients' own forwards, their public documentation, and the layouts collected
by open forward parsers. tests/forwards/ holds a sample for each client and language.
"""

from __future__ import annotations

from dataclasses import dataclass

# The header fields a forward header block can carry.
FROM, DATE, TO, CC, SUBJECT, REPLY_TO, BCC = "from", "date", "to", "cc", "subject", "reply-to", "bcc"
SENT = "sent"  # a date written as Outlook writes it ("Sent:", "Gesendet:"): the date, and a hint of Outlook


@dataclass(frozen=True, slots=True, kw_only=True)
class Language:
    code: str  # the dateparser / ISO 639-1 code
    labels: dict[str, tuple[str, ...]]  # field -> the labels clients print before ':'
    forwarded: tuple[str, ...]  # "Forwarded message" inside a dashed separator
    original: tuple[str, ...]  # "Original Message": Outlook, Samsung, Windows Live Mail
    begin: tuple[str, ...]  # "Begin forwarded message:" (Apple Mail, iOS)
    wrote: tuple[str, ...] = ()  # "On DATE, NAME <ADDR> wrote:" lines; {date} and {who} holes
    subject_prefixes: tuple[str, ...] = ()  # forward prefixes of a subject ("Fwd", "WG")
    reply_prefixes: tuple[str, ...] = ()  # reply prefixes ("Re", "AW"), kept on the subject


LANGUAGES: tuple[Language, ...] = (
    Language(
        code="en",
        labels={
            FROM: ("From", "Sender"),
            DATE: ("Date",),
            SENT: ("Sent", "Sent on", "Sent at"),
            TO: ("To", "Recipient", "Recipients"),
            CC: ("Cc", "CC", "Copy"),
            SUBJECT: ("Subject",),
            REPLY_TO: ("Reply-To", "Reply To"),
            BCC: ("Bcc",),
        },
        forwarded=("Forwarded message", "Forwarded e-mail", "Forwarded email", "Forwarded mail"),
        original=("Original Message", "Original e-mail", "Original email"),
        begin=("Begin forwarded message", "Forwarded message"),
        wrote=(r"On {date},?\s+{who}\s+wrote\s*:", r"{who}\s+wrote\s+on\s+{date}\s*:"),
        subject_prefixes=("Fwd", "Fw", "Forward", "Forwarded"),
        reply_prefixes=("Re",),
    ),
    Language(
        code="de",
        labels={
            FROM: ("Von", "Absender"),
            DATE: ("Datum", "Sendedatum"),
            SENT: ("Gesendet", "Gesendet am"),
            TO: ("An", "Empfänger"),
            CC: ("Cc", "Kopie", "Kopie (CC)", "CC"),
            SUBJECT: ("Betreff",),
            REPLY_TO: ("Antwort an",),
        },
        forwarded=("Weitergeleitete Nachricht", "Weitergeleitete E-Mail", "Weitergeleitete Mail"),
        original=("Ursprüngliche Nachricht", "Originalnachricht", "Original-Nachricht", "Ursprüngliche E-Mail"),
        begin=("Anfang der weitergeleiteten Nachricht", "Anfang der weitergeleiteten E-Mail"),
        wrote=(r"Am {date}\s+schrieb\s+{who}\s*:", r"{who}\s+schrieb\s+am\s+{date}\s*:"),
        subject_prefixes=("WG", "Wg", "WTR", "Weitergeleitet", "Fwd"),
        reply_prefixes=("AW", "Aw", "Antw"),
    ),
    Language(
        code="zh",
        labels={
            FROM: ("发件人", "寄件者", "寄件人", "發件人", "发信人"),
            DATE: ("日期", "发送日期", "时间", "時間"),
            SENT: ("发送时间", "發送時間", "寄件日期", "发件时间"),
            TO: ("收件人", "收件者"),
            CC: ("抄送", "副本", "抄送人", "副本抄送", "抄送者"),
            SUBJECT: ("主题", "主題", "主旨", "标题", "標題"),
            REPLY_TO: ("回复至", "回覆至"),
        },
        forwarded=(
            "转发的邮件",
            "转发邮件",
            "转发的消息",
            "转发消息",
            "转发的信息",
            "轉寄的郵件",
            "轉寄郵件",
            "轉寄的訊息",
            "转发",
        ),
        original=("原始邮件", "邮件原件", "原始郵件", "郵件原件", "原始信息", "原始消息", "原始訊息", "原邮件"),
        begin=(
            "以下为转发的邮件",
            "以下是转发的邮件",
            "开始转发的邮件",
            "转发的邮件",
            "以下為轉寄的郵件",
            "開始轉寄的郵件",
            "轉寄的郵件",
        ),
        wrote=(
            r"{who}\s*于\s*{date}\s*写道\s*[:：]",
            r"在\s*{date}\s*[,，]?\s*{who}\s*写道\s*[:：]",
            r"{who}\s*於\s*{date}\s*寫道\s*[:：]",
        ),
        subject_prefixes=("转发", "轉寄", "转", "轉發", "Fwd", "FW"),
        reply_prefixes=("回复", "答复", "回覆", "Re"),
    ),
    Language(
        code="fr",
        labels={
            FROM: ("De", "Expéditeur", "Expediteur"),
            DATE: ("Date",),
            SENT: ("Envoyé", "Envoyé le", "Envoye"),
            TO: ("À", "A", "Pour", "Destinataire", "Destinataires"),
            CC: ("Cc", "Copie", "Copie à", "CC"),
            SUBJECT: ("Objet", "Sujet"),
            REPLY_TO: ("Répondre à",),
        },
        forwarded=("Message transféré", "Message transmis", "Courriel transféré", "Message réexpédié"),
        original=("Message d'origine", "Message d’origine", "Message original"),
        begin=("Début du message réexpédié", "Début du message transféré"),
        wrote=(r"Le {date},?\s+{who}\s+a\s+écrit\s*:",),
        subject_prefixes=("TR", "Tr", "Fwd", "Transf"),
        reply_prefixes=("RE", "Réf", "Rép"),
    ),
    Language(
        code="es",
        labels={
            FROM: ("De", "Remitente"),
            DATE: ("Fecha",),
            SENT: ("Enviado", "Enviado el"),
            TO: ("Para", "A", "Destinatario"),
            CC: ("CC", "Cc", "Copia"),
            SUBJECT: ("Asunto",),
        },
        forwarded=("Mensaje reenviado", "Correo reenviado"),
        original=("Mensaje original", "Correo original"),
        begin=("Inicio del mensaje reenviado", "Comienzo del mensaje reenviado"),
        wrote=(r"El {date},?\s+{who}\s+escribió\s*:",),
        subject_prefixes=("RV", "Rv", "REENV", "Reenviar", "Fwd"),
        reply_prefixes=("RE", "Res"),
    ),
    Language(
        code="it",
        labels={
            FROM: ("Da", "Mittente"),
            DATE: ("Data", "Data invio"),
            SENT: ("Inviato", "Inviato il"),
            TO: ("A", "Destinatario", "Destinatari"),
            CC: ("Cc", "CC", "Copia"),
            SUBJECT: ("Oggetto",),
        },
        forwarded=("Messaggio inoltrato", "Messaggio Inoltrato", "E-mail inoltrata"),
        original=("Messaggio originale", "Messaggio Originale"),
        begin=("Inizio messaggio inoltrato", "Inizio del messaggio inoltrato"),
        wrote=(r"Il giorno {date},?\s+{who}\s+ha\s+scritto\s*:", r"Il {date},?\s+{who}\s+ha\s+scritto\s*:"),
        subject_prefixes=("I", "Inoltra", "Inoltrato", "Fwd"),
        reply_prefixes=("R", "RIF", "Rif"),
    ),
    Language(
        code="nl",
        labels={
            FROM: ("Van", "Afzender"),
            DATE: ("Datum",),
            SENT: ("Verzonden", "Verstuurd", "Verzonden op"),
            TO: ("Aan", "Ontvanger"),
            CC: ("CC", "Cc", "Kopie"),
            SUBJECT: ("Onderwerp",),
        },
        forwarded=("Doorgestuurd bericht", "Doorgestuurde e-mail"),
        original=("Oorspronkelijk bericht", "Origineel bericht", "Oorspronkelijk Bericht"),
        begin=("Begin doorgestuurd bericht", "Doorgestuurd bericht"),
        wrote=(r"Op {date}\s+(?:schreef|heeft)\s+{who}(?:\s+het\s+volgende\s+geschreven)?\s*:",),
        subject_prefixes=("Doorst", "FW", "Fwd", "Doorgestuurd"),
        reply_prefixes=("Antw", "RE"),
    ),
    Language(
        code="pt",
        labels={
            FROM: ("De", "Remetente"),
            DATE: ("Data", "Date"),
            SENT: ("Enviada", "Enviado", "Enviada em", "Enviado em"),
            TO: ("Para", "Destinatário"),
            CC: ("Cc", "CC", "Cópia"),
            SUBJECT: ("Assunto",),
        },
        forwarded=("Mensagem encaminhada", "Mensagem reencaminhada", "E-mail encaminhado"),
        original=("Mensagem original", "Mensagem Original"),
        begin=("Início da mensagem encaminhada", "Início da mensagem reencaminhada"),
        wrote=(r"Em {date},?\s+{who}\s+escreveu\s*:", r"No dia {date},?\s+{who}\s+escreveu\s*:"),
        subject_prefixes=("ENC", "Enc", "Encaminhar", "Encaminhada", "Fwd"),
        reply_prefixes=("RES", "Res", "RE"),
    ),
    Language(
        code="ru",
        labels={
            FROM: ("От", "Отправитель", "От кого"),
            DATE: ("Дата", "Дата отправки"),
            SENT: ("Отправлено", "Отправлено в"),
            TO: ("Кому", "Получатель"),
            CC: ("Копия", "Cc", "СС"),
            SUBJECT: ("Тема",),
        },
        forwarded=(
            "Пересылаемое сообщение",
            "Перенаправленное сообщение",
            "Пересланное сообщение",
            "Переадресованное сообщение",
        ),
        original=("Исходное сообщение", "Оригинальное сообщение", "Исходное письмо"),
        begin=("Начало переадресованного сообщения", "Начало пересылаемого сообщения"),
        wrote=(
            r"{date},?\s+пользователь\s+{who}\s+написал(?:\(а\))?\s*:",
            r"{date},?\s+{who}\s*(?:пишет|написал(?:\(а\))?|написала)\s*:",
            r"{date},?\s+{who}\s*:",
        ),
        subject_prefixes=("Пересл", "Fwd", "FW", "Переслано"),
        reply_prefixes=("Отв", "Ответ", "RE"),
    ),
    Language(
        code="ja",
        labels={
            FROM: ("差出人", "送信者", "送信元", "From"),
            DATE: ("日付", "日時"),
            SENT: ("送信日時", "送信日"),
            TO: ("宛先", "送信先", "受信者"),
            CC: ("CC", "Cc", "ＣＣ"),
            SUBJECT: ("件名", "表題"),
        },
        forwarded=("転送メッセージ", "転送されたメッセージ", "転送済みメッセージ", "転送メール", "メッセージを転送"),
        original=("元のメッセージ", "元のメール", "オリジナルメッセージ", "原文"),
        begin=("転送されたメッセージ", "転送メッセージ"),
        wrote=(r"{date}\s+{who}\s*(?:wrote|が書きました|のメッセージ)?\s*[:：]",),
        subject_prefixes=("転送", "Fwd", "FW", "転"),
        reply_prefixes=("返信", "Re"),
    ),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeparatorShape:
    """A separator line: how many dashes (or underscores) around which kind of phrase, and
    the client that writes it. `kind` is "forward" (a forward starts here) or "original"
    (a forward or a reply's quoted history starts here: Outlook and friends use both)."""

    client: str
    kind: str
    pattern: str  # {phrase} is replaced by the phrases of that kind, all languages


SEPARATORS: tuple[SeparatorShape, ...] = (
    SeparatorShape(client="gmail", kind="forward", pattern=r"-{9,10}\s*{forwarded}\s*-{9,10}"),
    SeparatorShape(client="thunderbird", kind="forward", pattern=r"-{8}\s*{forwarded}\s*-{8}"),
    SeparatorShape(client="yahoo", kind="forward", pattern=r"-{5}\s+{forwarded}\s+-{5}"),
    SeparatorShape(client="outlook", kind="original", pattern=r"-{5}{original}-{5}"),
    SeparatorShape(client="samsung", kind="original", pattern=r"-{8}\s*{original}\s*-{8}"),
    SeparatorShape(client="windows-live-mail", kind="original", pattern=r"-{5}\s+{original}\s+-{5}"),
    SeparatorShape(client="apple-mail", kind="forward", pattern=r"{begin}\s*[:：]"),
    SeparatorShape(client="outlook-com", kind="original", pattern=r"_{10,}"),
    # Any other count of dashes or equals signs around a known phrase.
    SeparatorShape(client="generic", kind="forward", pattern=r"[-=_]{2,}\s*{forwarded}\s*[-=_]{2,}"),
    SeparatorShape(client="generic", kind="original", pattern=r"[-=_]{2,}\s*{original}\s*[-=_]{2,}"),
)
