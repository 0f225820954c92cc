"""HTTP status codes and their reason phrases, as ``httpx.codes``.

``codes.NOT_FOUND == 404``, ``str(codes.NOT_FOUND) == "404"``,
``codes.NOT_FOUND.phrase == "Not Found"``, and requests-style lower-case aliases
(``codes.not_found``) name the same members.

Member names follow httpx (some predate RFC 9110); reason phrases follow RFC 9110 where
it defines the code, so 413, 414, 416 and 422 carry the RFC 9110 phrases ("Content Too
Large", "URI Too Long", "Range Not Satisfiable", "Unprocessable Content"). A response's
own reason phrase always comes from the wire when HTTP/1.1 carries one.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["codes"]


class codes(IntEnum):
    """HTTP status codes, with ``.phrase`` and range checks."""

    phrase: str

    def __new__(cls, value: int, phrase: str = "") -> codes:
        member = int.__new__(cls, value)
        member._value_ = value
        member.phrase = phrase
        return member

    def __str__(self) -> str:
        return str(self._value_)

    @classmethod
    def get_reason_phrase(cls, value: int) -> str:
        """The reason phrase for a status code, or ``""`` if the code is not known."""
        member = cls._value2member_map_.get(value)
        return member.phrase if isinstance(member, codes) else ""

    @classmethod
    def is_informational(cls, value: int) -> bool:
        """True for 1xx codes."""
        return 100 <= value <= 199

    @classmethod
    def is_success(cls, value: int) -> bool:
        """True for 2xx codes."""
        return 200 <= value <= 299

    @classmethod
    def is_redirect(cls, value: int) -> bool:
        """True for 3xx codes."""
        return 300 <= value <= 399

    @classmethod
    def is_client_error(cls, value: int) -> bool:
        """True for 4xx codes."""
        return 400 <= value <= 499

    @classmethod
    def is_server_error(cls, value: int) -> bool:
        """True for 5xx codes."""
        return 500 <= value <= 599

    @classmethod
    def is_error(cls, value: int) -> bool:
        """True for 4xx and 5xx codes."""
        return 400 <= value <= 599

    # Informational (RFC 9110 section 15.2; 102 from RFC 2518, 103 from RFC 8297)
    CONTINUE = 100, "Continue"
    SWITCHING_PROTOCOLS = 101, "Switching Protocols"
    PROCESSING = 102, "Processing"
    EARLY_HINTS = 103, "Early Hints"

    # Successful (RFC 9110 section 15.3; 207 and 208 from WebDAV, 226 from RFC 3229)
    OK = 200, "OK"
    CREATED = 201, "Created"
    ACCEPTED = 202, "Accepted"
    NON_AUTHORITATIVE_INFORMATION = 203, "Non-Authoritative Information"
    NO_CONTENT = 204, "No Content"
    RESET_CONTENT = 205, "Reset Content"
    PARTIAL_CONTENT = 206, "Partial Content"
    MULTI_STATUS = 207, "Multi-Status"
    ALREADY_REPORTED = 208, "Already Reported"
    IM_USED = 226, "IM Used"

    # Redirection (RFC 9110 section 15.4)
    MULTIPLE_CHOICES = 300, "Multiple Choices"
    MOVED_PERMANENTLY = 301, "Moved Permanently"
    FOUND = 302, "Found"
    SEE_OTHER = 303, "See Other"
    NOT_MODIFIED = 304, "Not Modified"
    USE_PROXY = 305, "Use Proxy"
    TEMPORARY_REDIRECT = 307, "Temporary Redirect"
    PERMANENT_REDIRECT = 308, "Permanent Redirect"

    # Client errors (RFC 9110 section 15.5; 418 from RFC 2324, 423/424 WebDAV, 425 RFC 8470,
    # 428/429/431 RFC 6585, 451 RFC 7725)
    BAD_REQUEST = 400, "Bad Request"
    UNAUTHORIZED = 401, "Unauthorized"
    PAYMENT_REQUIRED = 402, "Payment Required"
    FORBIDDEN = 403, "Forbidden"
    NOT_FOUND = 404, "Not Found"
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed"
    NOT_ACCEPTABLE = 406, "Not Acceptable"
    PROXY_AUTHENTICATION_REQUIRED = 407, "Proxy Authentication Required"
    REQUEST_TIMEOUT = 408, "Request Timeout"
    CONFLICT = 409, "Conflict"
    GONE = 410, "Gone"
    LENGTH_REQUIRED = 411, "Length Required"
    PRECONDITION_FAILED = 412, "Precondition Failed"
    REQUEST_ENTITY_TOO_LARGE = 413, "Content Too Large"
    REQUEST_URI_TOO_LONG = 414, "URI Too Long"
    UNSUPPORTED_MEDIA_TYPE = 415, "Unsupported Media Type"
    REQUESTED_RANGE_NOT_SATISFIABLE = 416, "Range Not Satisfiable"
    EXPECTATION_FAILED = 417, "Expectation Failed"
    IM_A_TEAPOT = 418, "I'm a teapot"
    MISDIRECTED_REQUEST = 421, "Misdirected Request"
    UNPROCESSABLE_ENTITY = 422, "Unprocessable Content"
    LOCKED = 423, "Locked"
    FAILED_DEPENDENCY = 424, "Failed Dependency"
    TOO_EARLY = 425, "Too Early"
    UPGRADE_REQUIRED = 426, "Upgrade Required"
    PRECONDITION_REQUIRED = 428, "Precondition Required"
    TOO_MANY_REQUESTS = 429, "Too Many Requests"
    REQUEST_HEADER_FIELDS_TOO_LARGE = 431, "Request Header Fields Too Large"
    UNAVAILABLE_FOR_LEGAL_REASONS = 451, "Unavailable For Legal Reasons"

    # Server errors (RFC 9110 section 15.6; 506 RFC 2295, 507/508 WebDAV, 510 RFC 2774,
    # 511 RFC 6585)
    INTERNAL_SERVER_ERROR = 500, "Internal Server Error"
    NOT_IMPLEMENTED = 501, "Not Implemented"
    BAD_GATEWAY = 502, "Bad Gateway"
    SERVICE_UNAVAILABLE = 503, "Service Unavailable"
    GATEWAY_TIMEOUT = 504, "Gateway Timeout"
    HTTP_VERSION_NOT_SUPPORTED = 505, "HTTP Version Not Supported"
    VARIANT_ALSO_NEGOTIATES = 506, "Variant Also Negotiates"
    INSUFFICIENT_STORAGE = 507, "Insufficient Storage"
    LOOP_DETECTED = 508, "Loop Detected"
    NOT_EXTENDED = 510, "Not Extended"
    NETWORK_AUTHENTICATION_REQUIRED = 511, "Network Authentication Required"

    # Lower-case aliases of the members above, for code written in requests' `codes.ok`
    # style (httpx adds them too). `continue` is a keyword, so it is attached below.
    switching_protocols = 101
    processing = 102
    early_hints = 103
    ok = 200
    created = 201
    accepted = 202
    non_authoritative_information = 203
    no_content = 204
    reset_content = 205
    partial_content = 206
    multi_status = 207
    already_reported = 208
    im_used = 226
    multiple_choices = 300
    moved_permanently = 301
    found = 302
    see_other = 303
    not_modified = 304
    use_proxy = 305
    temporary_redirect = 307
    permanent_redirect = 308
    bad_request = 400
    unauthorized = 401
    payment_required = 402
    forbidden = 403
    not_found = 404
    method_not_allowed = 405
    not_acceptable = 406
    proxy_authentication_required = 407
    request_timeout = 408
    conflict = 409
    gone = 410
    length_required = 411
    precondition_failed = 412
    request_entity_too_large = 413
    request_uri_too_long = 414
    unsupported_media_type = 415
    requested_range_not_satisfiable = 416
    expectation_failed = 417
    im_a_teapot = 418
    misdirected_request = 421
    unprocessable_entity = 422
    locked = 423
    failed_dependency = 424
    too_early = 425
    upgrade_required = 426
    precondition_required = 428
    too_many_requests = 429
    request_header_fields_too_large = 431
    unavailable_for_legal_reasons = 451
    internal_server_error = 500
    not_implemented = 501
    bad_gateway = 502
    service_unavailable = 503
    gateway_timeout = 504
    http_version_not_supported = 505
    variant_also_negotiates = 506
    insufficient_storage = 507
    loop_detected = 508
    not_extended = 510
    network_authentication_required = 511


# `continue` is a keyword, so its alias cannot sit in the class body: it is reachable with
# getattr() only and, unlike the aliases above, is not listed in __members__.
setattr(codes, "continue", codes.CONTINUE)
