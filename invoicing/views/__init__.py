"""The invoicing views, a module per concept; invoicing/urls.py and config/urls.py name
the modules.

- base: what they share (the object of a URL, the policy's answer, re-sent forms, running
  a service from a form or a button);
- documents (hub, page, new/edit, post, void, cancel) with editor (the draft editor);
- credit_memos; applications (Apply Credit, Unapply, allocation rows); payments;
  refunds (of credits and of deposits); deposits; customers (the pages that show A/R).
"""
