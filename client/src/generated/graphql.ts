/* eslint-disable */
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
export type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
export type MakeOptional<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]?: Maybe<T[SubKey]> };
export type MakeMaybe<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]: Maybe<T[SubKey]> };
export type MakeEmpty<T extends { [key: string]: unknown }, K extends keyof T> = { [_ in K]?: never };
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** An ISO-8601 UTC timestamp, e.g. 2026-11-21T09:00:00.000Z. */
  DateTime: { input: string; output: string; }
  join__DirectiveArguments: { input: any; output: any; }
  join__FieldSet: { input: any; output: any; }
  link__Import: { input: any; output: any; }
};

/** Who may share a cached response (Apollo Server's cache control). */
export type CacheControlScope =
  /** Only the caller it was made for may get the cached response. */
  | 'PRIVATE'
  /** Any caller may get the cached response. */
  | 'PUBLIC';

/** Why a registration was canceled. */
export type CancellationReason =
  /** The instructor canceled the lecture. */
  | 'LECTURE_CANCELED'
  /** A waitlist place was offered a freed seat, and its payment was declined; the seat went to the next in line. */
  | 'PAYMENT_DECLINED'
  /** The student (or an admin) canceled it. */
  | 'STUDENT_REQUEST';

/** One page of the caller's dashboard, most recently changed first. */
export type DashboardConnection = {
  /** The page's lines, most recently changed first. */
  edges: Array<DashboardEdge>;
  /** Whether more follow, and where to continue. */
  pageInfo: PageInfo;
  /** Lines across all pages. */
  totalCount: Scalars['Int']['output'];
};

/** One dashboard line of a page, with its cursor. */
export type DashboardEdge = {
  /** Opaque cursor; pass it as `after` to continue after this line. */
  cursor: Scalars['String']['output'];
  /** The line. */
  node: DashboardEntry;
};

/**
 * One line of a student's dashboard: a registration and its payment state, from the
 * dashboard's own read model (built from registration and payment events; eventually consistent).
 */
export type DashboardEntry = {
  /** Its lecture's id. */
  lectureId: Scalars['ID']['output'];
  /** Its lecture's title, as the registration's events carried it. */
  lectureTitle: Scalars['String']['output'];
  /** Null until the payment's first event has arrived. */
  paymentStatus?: Maybe<PaymentStatus>;
  /** The registration this line is about. */
  registrationId: Scalars['ID']['output'];
  /** The registration's status, as of the last event the dashboard has folded in. */
  registrationStatus: RegistrationStatus;
  /** When the entry last changed (time of the event that changed it). */
  updatedAt: Scalars['DateTime']['output'];
};

/** A lecture, owned by the lecture subgraph. */
export type Lecture = {
  /** Seats: the most confirmed registrations the lecture accepts. */
  capacity: Scalars['Int']['output'];
  /** Confirmed registrations, as the lecture side has learned of them from registration events. */
  enrolledCount: Scalars['Int']['output'];
  /** The lecture's id (24 hex characters). */
  id: Scalars['ID']['output'];
  /** User id (JWT `sub`) of the instructor who opened the lecture. */
  instructorId: Scalars['ID']['output'];
  /** Fee in KRW (integer won). */
  price: Scalars['Int']['output'];
  /**
   * Registrations of this lecture, confirmed and canceled, newest first, a page at a time:
   * `first` 1 to 100 (default 20), `after` a cursor from a previous page. Only for the lecture's
   * instructor or an admin; null for anyone else.
   */
  registrations?: Maybe<RegistrationConnection>;
  /** OPEN, then CANCELED for good. Registration's replica learns a cancellation from its event, a moment later. */
  status: LectureStatus;
  /** What the lecture is called: 1 to 200 characters. */
  title: Scalars['String']['output'];
  /** Students in this lecture's waitlist now, those being offered a freed seat included. Public. */
  waitlistLength: Scalars['Int']['output'];
};


/** A lecture, owned by the lecture subgraph. */
export type LectureRegistrationsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};

/** A page of the catalog (Relay connection). */
export type LectureConnection = {
  /** The page's lectures, in order. */
  edges: Array<LectureEdge>;
  /** Whether more follow, and where to continue. */
  pageInfo: PageInfo;
  /** Lectures matching the filter, across all pages. */
  totalCount: Scalars['Int']['output'];
};

/** One lecture of a page of the catalog, with its cursor. */
export type LectureEdge = {
  /** Opaque cursor; pass it as `after` to continue after this edge. */
  cursor: Scalars['String']['output'];
  /** The lecture. */
  node: Lecture;
};

/**
 * Where a lecture is in its life: OPEN from the moment it is opened, CANCELED for good once
 * canceled.
 */
export type LectureStatus =
  /** Canceled by its instructor or an admin: its registrations are canceled and refunded. */
  | 'CANCELED'
  /** Open: students may register (or join its waitlist when it is full). */
  | 'OPEN';

/** What can be changed: lectures, registrations and notifications (each subgraph serves its part). */
export type Mutation = {
  /**
   * Cancels a lecture: its instructor or an admin. Every confirmed registration of it is then
   * canceled (reason LECTURE_CANCELED) and refunded. Canceling a canceled lecture returns it unchanged.
   */
  cancelLecture: Lecture;
  /**
   * Cancels a confirmed registration (its student or an admin), whose payment is refunded, or
   * leaves a waitlist place (nothing was charged; everyone behind moves up). Canceling a canceled
   * registration returns it unchanged. Errors: NOT_FOUND (no such registration, or another
   * student's), FORBIDDEN (the lecture's instructor may see it but not cancel it).
   */
  cancelRegistration: Registration;
  /**
   * Marks the caller's notifications `ids` read (at most 100; ids that are not the caller's, or
   * read already, are left alone). Returns how many it marked.
   */
  markNotificationsRead: Scalars['Int']['output'];
  /** Opens a lecture taught by the caller. Role INSTRUCTOR or ADMIN. */
  openLecture: Lecture;
  /**
   * Registers the caller (role STUDENT or ADMIN) for an OPEN lecture and pays its price: the
   * answer is CONFIRMED. When the lecture is full and `waitlistIfFull` is true, the caller joins
   * its waitlist instead, first come first served: the answer is WAITLISTED with its
   * waitlistPosition, nothing is charged, and when a seat frees and the caller is first in line
   * the price is charged then and the registration becomes CONFIRMED (registrationStatusChanged
   * and a notification tell). A declined payment then drops the place (CANCELED,
   * PAYMENT_DECLINED) and the seat goes to the next in line. While anyone waits, a seat that frees
   * goes to them, never to a new request. A lecture's waitlist holds at most WAITLIST_MAX places
   * (by default as many as its capacity).
   * Errors: NOT_FOUND (no such lecture); LECTURE_NOT_OPEN (canceled); LECTURE_FULL (no seat,
   * and no waitlist place asked for or left); ALREADY_REGISTERED (the caller holds a
   * confirmed registration or a waitlist place of this lecture); PAYMENT_DECLINED;
   * PAYMENT_UNAVAILABLE and SERVICE_UNAVAILABLE (extensions.retryAfterSeconds says when to try
   * again). On any error no seat or place is held and no registration exists.
   */
  registerForLecture: Registration;
};


/** What can be changed: lectures, registrations and notifications (each subgraph serves its part). */
export type MutationCancelLectureArgs = {
  id: Scalars['ID']['input'];
};


/** What can be changed: lectures, registrations and notifications (each subgraph serves its part). */
export type MutationCancelRegistrationArgs = {
  id: Scalars['ID']['input'];
};


/** What can be changed: lectures, registrations and notifications (each subgraph serves its part). */
export type MutationMarkNotificationsReadArgs = {
  ids: Array<Scalars['ID']['input']>;
};


/** What can be changed: lectures, registrations and notifications (each subgraph serves its part). */
export type MutationOpenLectureArgs = {
  input: OpenLectureInput;
};


/** What can be changed: lectures, registrations and notifications (each subgraph serves its part). */
export type MutationRegisterForLectureArgs = {
  lectureId: Scalars['ID']['input'];
  waitlistIfFull?: InputMaybe<Scalars['Boolean']['input']>;
};

/**
 * One message in a student's inbox: something that happened to their registrations, told once
 * (built from events by the dashboard; eventually consistent).
 */
export type Notification = {
  /** KRW paid (REGISTRATION_CONFIRMED) or refunded (PAYMENT_REFUNDED); null for the other kinds. */
  amount?: Maybe<Scalars['Int']['output']>;
  /** When it happened. */
  createdAt: Scalars['DateTime']['output'];
  /** True when it tells of a waitlist place: joined, enrolled from it, or ended while waiting. */
  fromWaitlist: Scalars['Boolean']['output'];
  /** The notification's id. */
  id: Scalars['ID']['output'];
  /** What it tells. */
  kind: NotificationKind;
  /** The registration's lecture. */
  lecture: Lecture;
  /** One sentence for people. */
  message: Scalars['String']['output'];
  /** The place in line it joined at (1 = next), for REGISTRATION_WAITLISTED; null for the other kinds. */
  position?: Maybe<Scalars['Int']['output']>;
  /** Whether the student has marked it read (markNotificationsRead). */
  read: Scalars['Boolean']['output'];
  /**
   * Why: STUDENT_REQUEST, LECTURE_CANCELED or PAYMENT_DECLINED for REGISTRATION_CANCELED,
   * PAYMENT_DECLINED or PAYMENT_UNAVAILABLE for PAYMENT_FAILED; null for the other kinds.
   */
  reason?: Maybe<Scalars['String']['output']>;
  /** The registration it tells of. */
  registrationId: Scalars['ID']['output'];
};

/** One page of the caller's notifications, newest first. */
export type NotificationConnection = {
  /** The page's notifications, newest first. */
  edges: Array<NotificationEdge>;
  /** Whether more follow, and where to continue. */
  pageInfo: PageInfo;
  /** Notifications across all pages (unread ones only, with unreadOnly). */
  totalCount: Scalars['Int']['output'];
};

/** One notification of a page, with its cursor. */
export type NotificationEdge = {
  /** Opaque cursor; pass it as `after` to continue after this edge. */
  cursor: Scalars['String']['output'];
  /** The notification. */
  node: Notification;
};

/** What a notification tells. */
export type NotificationKind =
  /** A registration attempt failed at the payment step (see reason); no registration was made. */
  | 'PAYMENT_FAILED'
  /** A payment was refunded. */
  | 'PAYMENT_REFUNDED'
  /**
   * A registration was canceled, by its student or because the lecture was canceled; or a waitlist
   * place ended (fromWaitlist): left, closed with the lecture, or its payment declined when a seat
   * freed (see reason).
   */
  | 'REGISTRATION_CANCELED'
  /** A registration was paid and confirmed (at once, or when a seat freed for a waitlist place: fromWaitlist). */
  | 'REGISTRATION_CONFIRMED'
  /** The lecture was full and the student joined its waitlist (see position); nothing was charged. */
  | 'REGISTRATION_WAITLISTED';

/** What an instructor gives to open a lecture. */
export type OpenLectureInput = {
  /** 1 to 10000 seats. */
  capacity: Scalars['Int']['input'];
  /** 0 to 100000000 KRW. */
  price: Scalars['Int']['input'];
  /** 1 to 200 characters after trimming. */
  title: Scalars['String']['input'];
};

/** Relay-style page information. */
export type PageInfo = {
  /** The cursor of the page's last edge (null on an empty page): pass it as `after` for the next page. */
  endCursor?: Maybe<Scalars['String']['output']>;
  /** Whether another page follows this one. */
  hasNextPage: Scalars['Boolean']['output'];
};

/** The charge for one registration. Visible to the paying student and admins. */
export type Payment = {
  /** Charged amount in KRW (integer won). */
  amount: Scalars['Int']['output'];
  /** The payment's id. */
  id: Scalars['ID']['output'];
  /** Charged, or refunded. */
  status: PaymentStatus;
};

/** Where a payment is: COMPLETED once charged, REFUNDED once its registration was canceled. */
export type PaymentStatus =
  /** Charged. */
  | 'COMPLETED'
  /** Paid back after its registration was canceled. */
  | 'REFUNDED';

/** What can be read: the catalog, registrations and the dashboard (each subgraph serves its part). */
export type Query = {
  /** A lecture by id; null when none has it. Public. */
  lecture?: Maybe<Lecture>;
  /** The catalog, oldest first. `first` defaults to 20 (at most 100). Public. */
  lectures: LectureConnection;
  /**
   * The lectures the caller manages, newest first (at most 200): an instructor's own, every
   * lecture for an admin. Needs an INSTRUCTOR or ADMIN.
   */
  managedLectures: Array<Lecture>;
  /**
   * The caller's dashboard, most recently changed first: the first 100 lines only (see myDashboardPage).
   * @deprecated Use myDashboardPage, a page at a time: this list holds the caller's 100 most recently changed lines only.
   */
  myDashboard: Array<DashboardEntry>;
  /**
   * The caller's dashboard, most recently changed first, a page at a time: `first` 1 to 100
   * (default 20), `after` a cursor from a previous page. A line that changes between two pages moves
   * to the top of the first. Needs a signed-in caller.
   */
  myDashboardPage: DashboardConnection;
  /**
   * The caller's notifications, newest first: `first` (1-100, default 20) after cursor `after`;
   * only unread ones with `unreadOnly`. Needs a signed-in caller.
   */
  myNotifications: NotificationConnection;
  /**
   * The caller's registrations, newest first: the newest 100 only (see myRegistrationsPage).
   * @deprecated Use myRegistrationsPage, a page at a time: this list holds the caller's newest 100 registrations only.
   */
  myRegistrations: Array<Registration>;
  /**
   * The caller's registrations (waitlisted, confirmed and canceled), newest first, a page at a
   * time: `first` 1 to 100 (default 20), `after` a cursor from a previous page. Needs a signed-in
   * caller.
   */
  myRegistrationsPage: RegistrationConnection;
  /** One of the caller's notifications; null when it is not theirs. Needs a signed-in caller. */
  notification?: Maybe<Notification>;
  /** A registration, for its student, the lecture's instructor or an admin; null for anyone else. */
  registration?: Maybe<Registration>;
  /** How many of the caller's notifications are unread. Needs a signed-in caller. */
  unreadNotificationCount: Scalars['Int']['output'];
};


/** What can be read: the catalog, registrations and the dashboard (each subgraph serves its part). */
export type QueryLectureArgs = {
  id: Scalars['ID']['input'];
};


/** What can be read: the catalog, registrations and the dashboard (each subgraph serves its part). */
export type QueryLecturesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  status?: InputMaybe<LectureStatus>;
};


/** What can be read: the catalog, registrations and the dashboard (each subgraph serves its part). */
export type QueryMyDashboardPageArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


/** What can be read: the catalog, registrations and the dashboard (each subgraph serves its part). */
export type QueryMyNotificationsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  unreadOnly?: InputMaybe<Scalars['Boolean']['input']>;
};


/** What can be read: the catalog, registrations and the dashboard (each subgraph serves its part). */
export type QueryMyRegistrationsPageArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


/** What can be read: the catalog, registrations and the dashboard (each subgraph serves its part). */
export type QueryNotificationArgs = {
  id: Scalars['ID']['input'];
};


/** What can be read: the catalog, registrations and the dashboard (each subgraph serves its part). */
export type QueryRegistrationArgs = {
  id: Scalars['ID']['input'];
};

/**
 * A student's enrolment in one lecture, or their place in its waitlist. An enrolment exists only
 * once paid: an attempt whose payment fails leaves no registration behind. A waitlist place
 * (WAITLISTED) is charged only when a seat frees and it is first in line, and becomes CONFIRMED then.
 */
export type Registration = {
  /** Why it was canceled; null unless CANCELED. */
  cancellationReason?: Maybe<CancellationReason>;
  /** When the registration was made. */
  createdAt: Scalars['DateTime']['output'];
  /** The registration's id. */
  id: Scalars['ID']['output'];
  /** The lecture registered for. */
  lecture: Lecture;
  /** The charge for this registration; null for callers other than the student or an admin. */
  payment?: Maybe<Payment>;
  /** WAITLISTED, CONFIRMED or CANCELED. */
  status: RegistrationStatus;
  /** User id (JWT `sub`) of the student. */
  studentId: Scalars['ID']['output'];
  /** When its status, waitlist position or cancellation last changed. */
  updatedAt: Scalars['DateTime']['output'];
  /**
   * Its place in the lecture's waitlist while WAITLISTED: 1 is next in line (a seat that frees is
   * offered to it, and its payment is taken then). Null in any other status.
   */
  waitlistPosition?: Maybe<Scalars['Int']['output']>;
};

/** One page of registrations: a lecture's, or the caller's. */
export type RegistrationConnection = {
  /** The page's registrations, newest first. */
  edges: Array<RegistrationEdge>;
  /** Whether more follow, and where to continue. */
  pageInfo: PageInfo;
  /** Registrations across all pages. */
  totalCount: Scalars['Int']['output'];
};

/** One registration of a page, with its cursor. */
export type RegistrationEdge = {
  /** Opaque cursor; pass it as `after` to continue after this edge. */
  cursor: Scalars['String']['output'];
  /** The registration. */
  node: Registration;
};

/** Where a registration is: waiting for a seat, holding one, or ended. */
export type RegistrationStatus =
  /** Ended (see cancellationReason); a confirmed one was refunded. */
  | 'CANCELED'
  /** Paid and holding a seat. */
  | 'CONFIRMED'
  /** In the lecture's waitlist (see waitlistPosition); nothing charged. */
  | 'WAITLISTED';

/** Live changes, served by the gateway over graphql-ws, SSE and multipart HTTP (each subgraph declares its part). */
export type Subscription = {
  /**
   * A lecture's status, enrolled count or waitlist length changed. Served by the gateway over
   * graphql-ws, Server-Sent Events and multipart HTTP (the event names the lecture; the gateway
   * resolves the selected fields). Public.
   *
   * Each delivery reports its own event: `status`, `enrolledCount` and `waitlistLength` are as of
   * that event. Every delivery's `extensions.eventId` is its position; sent back as
   * `extensions.lastEventId` (SSE: `Last-Event-ID`), the events missed since come first, in order.
   */
  lectureUpdated: Lecture;
  /**
   * Each new notification of the caller, as it is stored (served by the gateway over graphql-ws,
   * Server-Sent Events and multipart HTTP; the events' ordering is the inbox's). Needs a
   * signed-in caller. Every delivery's `extensions.eventId` is its position; sent back as
   * `extensions.lastEventId` (SSE: `Last-Event-ID`), the notifications missed since come first.
   */
  notificationReceived: Notification;
  /**
   * A registration's status, its waitlist position, or its payment's status, changed. Without an
   * id: every registration the caller may see (a student's own; an instructor's lectures'; all for
   * an admin). Served by the gateway over graphql-ws, Server-Sent Events and multipart HTTP.
   *
   * Each delivery reports its own event: `status`, `cancellationReason`, `waitlistPosition` and
   * `payment.status` are as of that event; the rest is read when it is delivered. Every delivery's
   * `extensions.eventId` is its position; sent back as `extensions.lastEventId` (SSE:
   * `Last-Event-ID`), the events missed since are delivered first, in order.
   */
  registrationStatusChanged: Registration;
};


/** Live changes, served by the gateway over graphql-ws, SSE and multipart HTTP (each subgraph declares its part). */
export type SubscriptionLectureUpdatedArgs = {
  current?: InputMaybe<Scalars['Boolean']['input']>;
  lectureId: Scalars['ID']['input'];
};


/** Live changes, served by the gateway over graphql-ws, SSE and multipart HTTP (each subgraph declares its part). */
export type SubscriptionRegistrationStatusChangedArgs = {
  current?: InputMaybe<Scalars['Boolean']['input']>;
  registrationId?: InputMaybe<Scalars['ID']['input']>;
};

export type Join__Graph =
  | 'DASHBOARD'
  | 'LECTURE'
  | 'PAYMENT'
  | 'REGISTRATION';

export type Link__Purpose =
  /** `EXECUTION` features provide metadata necessary for operation execution. */
  | 'EXECUTION'
  /** `SECURITY` features provide metadata necessary to securely resolve fields. */
  | 'SECURITY';

export type RegistrationViewFragment = { id: string, status: RegistrationStatus, cancellationReason?: CancellationReason | null, waitlistPosition?: number | null, lecture: { id: string, title: string }, payment?: { status: PaymentStatus } | null };

export type CatalogQueryVariables = Exact<{ [key: string]: never; }>;


export type CatalogQuery = { lectures: { totalCount: number, edges: Array<{ node: { id: string, title: string, price: number, capacity: number, enrolledCount: number, waitlistLength: number } }> } };

export type NextPageFragment = { hasNextPage: boolean, endCursor?: string | null };

export type MyRegistrationsQueryVariables = Exact<{
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type MyRegistrationsQuery = { myRegistrationsPage: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor?: string | null }, edges: Array<{ node: { id: string, status: RegistrationStatus, cancellationReason?: CancellationReason | null, waitlistPosition?: number | null, lecture: { id: string, title: string }, payment?: { status: PaymentStatus } | null } }> } };

export type MyDashboardQueryVariables = Exact<{
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type MyDashboardQuery = { myDashboardPage: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor?: string | null }, edges: Array<{ node: { registrationId: string, lectureTitle: string, registrationStatus: RegistrationStatus, paymentStatus?: PaymentStatus | null, updatedAt: string } }> } };

export type RegisterMutationVariables = Exact<{
  id: Scalars['ID']['input'];
  waitlistIfFull?: InputMaybe<Scalars['Boolean']['input']>;
}>;


export type RegisterMutation = { registerForLecture: { id: string, status: RegistrationStatus, cancellationReason?: CancellationReason | null, waitlistPosition?: number | null, lecture: { id: string, title: string }, payment?: { status: PaymentStatus } | null } };

export type CancelRegistrationMutationVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type CancelRegistrationMutation = { cancelRegistration: { id: string, status: RegistrationStatus, cancellationReason?: CancellationReason | null, waitlistPosition?: number | null, lecture: { id: string, title: string }, payment?: { status: PaymentStatus } | null } };

export type MyRegistrationChangesSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type MyRegistrationChangesSubscription = { registrationStatusChanged: { id: string, status: RegistrationStatus, cancellationReason?: CancellationReason | null, waitlistPosition?: number | null, lecture: { id: string, title: string }, payment?: { status: PaymentStatus } | null } };

export type NotificationViewFragment = { id: string, kind: NotificationKind, message: string, read: boolean, createdAt: string };

export type MyInboxQueryVariables = Exact<{ [key: string]: never; }>;


export type MyInboxQuery = { unreadNotificationCount: number, myNotifications: { edges: Array<{ node: { id: string, kind: NotificationKind, message: string, read: boolean, createdAt: string } }> } };

export type MarkNotificationsReadMutationVariables = Exact<{
  ids: Array<Scalars['ID']['input']> | Scalars['ID']['input'];
}>;


export type MarkNotificationsReadMutation = { markNotificationsRead: number };

export type NotificationReceivedSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type NotificationReceivedSubscription = { notificationReceived: { id: string, kind: NotificationKind, message: string, read: boolean, createdAt: string } };

export type ManagedLectureViewFragment = { id: string, title: string, capacity: number, price: number, status: LectureStatus, enrolledCount: number, waitlistLength: number, registrations?: { totalCount: number, edges: Array<{ node: { id: string, studentId: string, status: RegistrationStatus, cancellationReason?: CancellationReason | null } }> } | null };

export type ManagedLecturesQueryVariables = Exact<{ [key: string]: never; }>;


export type ManagedLecturesQuery = { managedLectures: Array<{ id: string, title: string, capacity: number, price: number, status: LectureStatus, enrolledCount: number, waitlistLength: number, registrations?: { totalCount: number, edges: Array<{ node: { id: string, studentId: string, status: RegistrationStatus, cancellationReason?: CancellationReason | null } }> } | null }> };

export type OpenLectureMutationVariables = Exact<{
  input: OpenLectureInput;
}>;


export type OpenLectureMutation = { openLecture: { id: string, title: string, capacity: number, price: number, status: LectureStatus, enrolledCount: number, waitlistLength: number, registrations?: { totalCount: number, edges: Array<{ node: { id: string, studentId: string, status: RegistrationStatus, cancellationReason?: CancellationReason | null } }> } | null } };

export type CancelLectureMutationVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type CancelLectureMutation = { cancelLecture: { id: string, status: LectureStatus } };

export type LectureChangesSubscriptionVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type LectureChangesSubscription = { lectureUpdated: { id: string, status: LectureStatus, enrolledCount: number, waitlistLength: number } };

export type ManagedRegistrationChangesSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type ManagedRegistrationChangesSubscription = { registrationStatusChanged: { id: string, studentId: string, status: RegistrationStatus, cancellationReason?: CancellationReason | null, lecture: { id: string } } };

export const RegistrationViewFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"RegistrationView"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Registration"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"cancellationReason"}},{"kind":"Field","name":{"kind":"Name","value":"waitlistPosition"}},{"kind":"Field","name":{"kind":"Name","value":"lecture"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}}]}},{"kind":"Field","name":{"kind":"Name","value":"payment"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]} as unknown as DocumentNode<RegistrationViewFragment, unknown>;
export const NextPageFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"NextPage"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"PageInfo"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]} as unknown as DocumentNode<NextPageFragment, unknown>;
export const NotificationViewFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"NotificationView"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Notification"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"read"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]} as unknown as DocumentNode<NotificationViewFragment, unknown>;
export const ManagedLectureViewFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ManagedLectureView"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Lecture"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"capacity"}},{"kind":"Field","name":{"kind":"Name","value":"price"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"enrolledCount"}},{"kind":"Field","name":{"kind":"Name","value":"waitlistLength"}},{"kind":"Field","name":{"kind":"Name","value":"registrations"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"50"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"studentId"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"cancellationReason"}}]}}]}}]}}]}}]} as unknown as DocumentNode<ManagedLectureViewFragment, unknown>;
export const CatalogDocument = {"__meta__":{"hash":"fc8e6aed81f9216fa508947a526339783641dd43ec93084096d6ccd79d424fd1"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Catalog"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"lectures"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"50"}},{"kind":"Argument","name":{"kind":"Name","value":"status"},"value":{"kind":"EnumValue","value":"OPEN"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"price"}},{"kind":"Field","name":{"kind":"Name","value":"capacity"}},{"kind":"Field","name":{"kind":"Name","value":"enrolledCount"}},{"kind":"Field","name":{"kind":"Name","value":"waitlistLength"}}]}}]}}]}}]}}]} as unknown as DocumentNode<CatalogQuery, CatalogQueryVariables>;
export const MyRegistrationsDocument = {"__meta__":{"hash":"6a925a7a17c8a8c1aee748153eef540bf81d30ff7575c0f031d31fb14c4bd00c"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"MyRegistrations"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"myRegistrationsPage"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"25"}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"NextPage"}}]}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"RegistrationView"}}]}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"NextPage"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"PageInfo"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"RegistrationView"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Registration"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"cancellationReason"}},{"kind":"Field","name":{"kind":"Name","value":"waitlistPosition"}},{"kind":"Field","name":{"kind":"Name","value":"lecture"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}}]}},{"kind":"Field","name":{"kind":"Name","value":"payment"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]} as unknown as DocumentNode<MyRegistrationsQuery, MyRegistrationsQueryVariables>;
export const MyDashboardDocument = {"__meta__":{"hash":"78675b52610865f611bcf1d8962b4dabec2364ccd43b3bd49be544637e0f39c5"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"MyDashboard"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"myDashboardPage"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"50"}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"NextPage"}}]}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"registrationId"}},{"kind":"Field","name":{"kind":"Name","value":"lectureTitle"}},{"kind":"Field","name":{"kind":"Name","value":"registrationStatus"}},{"kind":"Field","name":{"kind":"Name","value":"paymentStatus"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}}]}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"NextPage"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"PageInfo"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]} as unknown as DocumentNode<MyDashboardQuery, MyDashboardQueryVariables>;
export const RegisterDocument = {"__meta__":{"hash":"acef8b6e7ae099c87a4f5d04e8294be2cf0f441a83a08aad2225d45ab05fd167"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"Register"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"waitlistIfFull"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Boolean"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"registerForLecture"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"lectureId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"waitlistIfFull"},"value":{"kind":"Variable","name":{"kind":"Name","value":"waitlistIfFull"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"RegistrationView"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"RegistrationView"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Registration"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"cancellationReason"}},{"kind":"Field","name":{"kind":"Name","value":"waitlistPosition"}},{"kind":"Field","name":{"kind":"Name","value":"lecture"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}}]}},{"kind":"Field","name":{"kind":"Name","value":"payment"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]} as unknown as DocumentNode<RegisterMutation, RegisterMutationVariables>;
export const CancelRegistrationDocument = {"__meta__":{"hash":"22b9e9a50281a75b3f7b7706780bb2540e49511923460551f6fad4df962807f7"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CancelRegistration"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cancelRegistration"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"RegistrationView"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"RegistrationView"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Registration"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"cancellationReason"}},{"kind":"Field","name":{"kind":"Name","value":"waitlistPosition"}},{"kind":"Field","name":{"kind":"Name","value":"lecture"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}}]}},{"kind":"Field","name":{"kind":"Name","value":"payment"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]} as unknown as DocumentNode<CancelRegistrationMutation, CancelRegistrationMutationVariables>;
export const MyRegistrationChangesDocument = {"__meta__":{"hash":"b8715cdcc44da87265e2778124a9ef9315d1801d13e62869ed3d151ea4c8621f"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"MyRegistrationChanges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"registrationStatusChanged"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"RegistrationView"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"RegistrationView"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Registration"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"cancellationReason"}},{"kind":"Field","name":{"kind":"Name","value":"waitlistPosition"}},{"kind":"Field","name":{"kind":"Name","value":"lecture"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}}]}},{"kind":"Field","name":{"kind":"Name","value":"payment"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]} as unknown as DocumentNode<MyRegistrationChangesSubscription, MyRegistrationChangesSubscriptionVariables>;
export const MyInboxDocument = {"__meta__":{"hash":"5c8866397ee20ce5b828fbe69cba300e8b200f6213053a2be5a53c1f1d1e8934"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"MyInbox"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"myNotifications"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"20"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"NotificationView"}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"unreadNotificationCount"}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"NotificationView"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Notification"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"read"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]} as unknown as DocumentNode<MyInboxQuery, MyInboxQueryVariables>;
export const MarkNotificationsReadDocument = {"__meta__":{"hash":"1a766cf4ea3e134b35e5fa8ec5b904da700ab13ff3d61af7158809b586e6fe94"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"MarkNotificationsRead"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"ids"}},"type":{"kind":"NonNullType","type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"markNotificationsRead"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"ids"},"value":{"kind":"Variable","name":{"kind":"Name","value":"ids"}}}]}]}}]} as unknown as DocumentNode<MarkNotificationsReadMutation, MarkNotificationsReadMutationVariables>;
export const NotificationReceivedDocument = {"__meta__":{"hash":"0b6f02c01687c684e3c10ebb6cd962b09eebcb5b498327065178c13e41a1a47d"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"NotificationReceived"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"notificationReceived"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"NotificationView"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"NotificationView"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Notification"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"read"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]} as unknown as DocumentNode<NotificationReceivedSubscription, NotificationReceivedSubscriptionVariables>;
export const ManagedLecturesDocument = {"__meta__":{"hash":"ec6fc1c66c79f7757b2cc28368e5d457b49fe7fd1e194d621da833ac538b91f9"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ManagedLectures"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"managedLectures"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ManagedLectureView"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ManagedLectureView"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Lecture"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"capacity"}},{"kind":"Field","name":{"kind":"Name","value":"price"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"enrolledCount"}},{"kind":"Field","name":{"kind":"Name","value":"waitlistLength"}},{"kind":"Field","name":{"kind":"Name","value":"registrations"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"50"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"studentId"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"cancellationReason"}}]}}]}}]}}]}}]} as unknown as DocumentNode<ManagedLecturesQuery, ManagedLecturesQueryVariables>;
export const OpenLectureDocument = {"__meta__":{"hash":"007346e9239763932bb8b0f6e9c1f1db164fc08af61bc329f34a6d0b38aa4953"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"OpenLecture"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"OpenLectureInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"openLecture"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"FragmentSpread","name":{"kind":"Name","value":"ManagedLectureView"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ManagedLectureView"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Lecture"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"capacity"}},{"kind":"Field","name":{"kind":"Name","value":"price"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"enrolledCount"}},{"kind":"Field","name":{"kind":"Name","value":"waitlistLength"}},{"kind":"Field","name":{"kind":"Name","value":"registrations"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"50"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"studentId"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"cancellationReason"}}]}}]}}]}}]}}]} as unknown as DocumentNode<OpenLectureMutation, OpenLectureMutationVariables>;
export const CancelLectureDocument = {"__meta__":{"hash":"05cdb6f4089980bb9f4b587d0a19875bb4fe6de296965da17b59999cbdc6e5ca"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CancelLecture"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cancelLecture"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]} as unknown as DocumentNode<CancelLectureMutation, CancelLectureMutationVariables>;
export const LectureChangesDocument = {"__meta__":{"hash":"0594d61233a77ec1c4db4199c9d958203797921858d2049c0b5d36ded70f01c6"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"LectureChanges"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"lectureUpdated"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"lectureId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"enrolledCount"}},{"kind":"Field","name":{"kind":"Name","value":"waitlistLength"}}]}}]}}]} as unknown as DocumentNode<LectureChangesSubscription, LectureChangesSubscriptionVariables>;
export const ManagedRegistrationChangesDocument = {"__meta__":{"hash":"0dc79e0dc9bfbbb92d017e0af3d386b75d07ed04930282765a23aabdb59fa421"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"ManagedRegistrationChanges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"registrationStatusChanged"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"studentId"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"cancellationReason"}},{"kind":"Field","name":{"kind":"Name","value":"lecture"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}}]}}]} as unknown as DocumentNode<ManagedRegistrationChangesSubscription, ManagedRegistrationChangesSubscriptionVariables>;