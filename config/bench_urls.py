"""Production's URLs plus the benchmark's floor view; mounted only by ``config.bench_settings``.

The floor is what any request costs here before its own work: the whole middleware stack, one
primary-key SELECT and a tiny response. Each benchmark target is reported as a ratio to it.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from accounts.models import Business
from config.urls import urlpatterns as production_urlpatterns

FLOOR_PATH = "__bench__/floor"


def floor(request: HttpRequest) -> HttpResponse:
    try:
        pk = int(request.GET.get("pk", "1"))
    except ValueError:
        pk = 1
    name = Business.objects.filter(pk=pk).values_list("site_name", flat=True).first()
    return HttpResponse("ok" if name is not None else "none", content_type="text/plain")


urlpatterns = [path(FLOOR_PATH, floor, name="bench-floor"), *production_urlpatterns]
