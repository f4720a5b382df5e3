"""The A/R models, by concept: choices, shared bases, catalog (tax profiles, items),
documents (and the one definition of a credit), applications, deposits, delivery (what
customers receive: letterhead, frozen PDFs, sends). Import them from
`invoicing.models`."""

from invoicing.models.applications import (  # noqa: F401
    Application,
    ApplicationBatch,
    PlannedApplication,
)
from invoicing.models.base import (  # noqa: F401
    MONEY,
    POSTED_AT_HELP,
    POSTED_BY_HELP,
    Authored,
    MoneyMoved,
    Posted,
    Removable,
    positive_amount,
)
from invoicing.models.catalog import (  # noqa: F401
    Item,
    TaxProfile,
)
from invoicing.models.choices import (  # noqa: F401
    ApplicationOrigin,
    CreditReason,
    DocumentKind,
    DocumentStatus,
    PaymentMethod,
    RefundStatus,
)
from invoicing.models.delivery import (  # noqa: F401
    CompanyProfile,
    DocumentSend,
    FrozenPDF,
    SendChannel,
    SendStatus,
)
from invoicing.models.deposits import (  # noqa: F401
    Deposit,
    DepositApplication,
    DepositRefund,
)
from invoicing.models.documents import (  # noqa: F401
    CREDIT_KINDS,
    CREDIT_Q,
    Document,
    DocumentLine,
    DocumentSequence,
    earmarked_open_expr,
)
from invoicing.models.statements import (  # noqa: F401
    StatementKind,
    StatementRun,
    StatementSend,
)
