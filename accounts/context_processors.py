from django.http import HttpRequest


def current_business(request: HttpRequest) -> dict:
    return {"current_business": getattr(request, "business", None)}
