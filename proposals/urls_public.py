from django.urls import path

from proposals.views import public

app_name = "public"

urlpatterns = [
    # Before "<str:token>": a logo's name has slashes, a token never does.
    path("logo/<path:name>", public.brand_logo, name="logo"),
    path("<str:token>", public.proposal_page, name="proposal"),
    path("<str:token>/pdf", public.proposal_pdf, name="pdf"),
    path("<str:token>/accept", public.proposal_accept, name="accept"),
    path("<str:token>/decline", public.proposal_decline, name="decline"),
]
