"""The pages behind the answer links of email notifications (``/email/links/{token}``): GET
shows what the link would answer and a button to confirm it, and only the POST from that
page answers, so a mail scanner or a link preview that fetches the link decides nothing.

The POST is CSRF-safe: the page sets a random value in a cookie (HttpOnly, SameSite=Strict,
scoped to the links' path) and puts a MAC of it, with the link key and the mail's use, in
the form; the POST must carry both, and another site's form carries neither. A link answers
once (the mail's use, recorded in Redis by the first POST), until it expires; a link that is
used, expired or settled shows who decided and when, and one that was altered is refused
without reading anything of it.
"""
