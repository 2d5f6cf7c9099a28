"""Language choice: Chinese (Simplified) unless the user picked another language with the switch
(remembered in Django's language cookie). The browser's Accept-Language is not consulted: operator
desktops often run English systems while their users work in Chinese."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class ChosenLanguageMiddleware(LocaleMiddleware):
    def process_request(self, request: Any) -> None:
        lang = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if lang not in dict(settings.LANGUAGES):
            lang = settings.LANGUAGE_CODE
        translation.activate(lang)
        request.LANGUAGE_CODE = translation.get_language()
