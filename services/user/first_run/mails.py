"""The welcome mail of a new member, in their locale (its language; English where we have no
text in it)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from services.common.mailer import EmailMessage


@dataclass(frozen=True)
class WelcomeText:
    subject: str
    greeting: str
    body: str
    link_note: str
    checklist: str


#: By language subtag (``de-AT`` is German).
TEXTS: dict[str, WelcomeText] = {
    "en": WelcomeText(
        subject="Welcome to {tenant}",
        greeting="Hello {name},",
        body="you are now a member of the workspace {tenant} on ADX CORE.",
        link_note="A separate mail brings the link that sets your password.",
        checklist="Complete your profile (name, language, time zone, picture) to finish.",
    ),
    "de": WelcomeText(
        subject="Willkommen bei {tenant}",
        greeting="Hallo {name},",
        body="du bist jetzt Mitglied des Arbeitsbereichs {tenant} auf ADX CORE.",
        link_note="Eine separate E-Mail enthält den Link, mit dem du dein Passwort festlegst.",
        checklist="Vervollständige dein Profil (Name, Sprache, Zeitzone, Bild), um abzuschließen.",
    ),
    "fr": WelcomeText(
        subject="Bienvenue dans {tenant}",
        greeting="Bonjour {name},",
        body="vous êtes désormais membre de l'espace de travail {tenant} sur ADX CORE.",
        link_note="Un e-mail séparé contient le lien pour définir votre mot de passe.",
        checklist="Complétez votre profil (nom, langue, fuseau horaire, photo) pour terminer.",
    ),
    "es": WelcomeText(
        subject="Te damos la bienvenida a {tenant}",
        greeting="Hola {name}:",
        body="ahora eres miembro del espacio de trabajo {tenant} en ADX CORE.",
        link_note="Un correo aparte trae el enlace para establecer tu contraseña.",
        checklist="Completa tu perfil (nombre, idioma, zona horaria, foto) para terminar.",
    ),
}
DEFAULT_LANGUAGE = "en"


def language_of(locale: str | None) -> str:
    language = (locale or "").split("-", 1)[0].lower()
    return language if language in TEXTS else DEFAULT_LANGUAGE


def welcome_mail(
    *, to: str, name: str, tenant: str, locale: str | None, needs_password: bool, key: str
) -> EmailMessage:
    text = TEXTS[language_of(locale)]
    values = {"name": name, "tenant": tenant or "ADX CORE"}
    lines = [text.greeting.format(**values), "", text.body.format(**values), ""]
    if needs_password:
        lines += [text.link_note, ""]
    lines.append(text.checklist)
    return EmailMessage(
        to=to,
        subject=text.subject.format(**values),
        text="\n".join(lines) + "\n",
        dedup_key=hashlib.sha256(key.encode()).hexdigest(),
    )
