"""Background tasks (Django's tasks API, django-tasks): sending a queued email.

The default backend keeps tasks in the database and `manage.py db_worker` runs them;
settings.TASKS (env TASKS_BACKEND) may point elsewhere (RQ, or the immediate backend that
runs a task inside the request)."""

from django_tasks import task

from invoicing.models import DocumentSend


@task()
def send_document(send_id: int) -> str:
    """Deliver the queued email send `send_id`; returns its status (sent or failed). Run
    twice, it sends once: a send that is no longer queued is left alone."""
    from invoicing.services.sending import deliver

    send = DocumentSend.objects.select_related("document__customer", "deposit__customer").get(
        pk=send_id
    )
    return deliver(send).status
