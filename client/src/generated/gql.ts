/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "fragment RegistrationView on Registration {\n  id\n  status\n  cancellationReason\n  lecture {\n    title\n  }\n  payment {\n    status\n  }\n}\n\nquery Catalog {\n  lectures(first: 50, status: OPEN) {\n    totalCount\n    edges {\n      node {\n        id\n        title\n        price\n        capacity\n        enrolledCount\n      }\n    }\n  }\n}\n\nquery MyRegistrations {\n  myRegistrations {\n    ...RegistrationView\n  }\n}\n\nquery MyDashboard {\n  myDashboard {\n    registrationId\n    lectureTitle\n    registrationStatus\n    paymentStatus\n    updatedAt\n  }\n}\n\nmutation Register($id: ID!) {\n  registerForLecture(lectureId: $id) {\n    ...RegistrationView\n  }\n}\n\nmutation CancelRegistration($id: ID!) {\n  cancelRegistration(id: $id) {\n    ...RegistrationView\n  }\n}\n\nsubscription MyRegistrationChanges {\n  registrationStatusChanged {\n    ...RegistrationView\n  }\n}\n\nfragment NotificationView on Notification {\n  id\n  kind\n  message\n  read\n  createdAt\n}\n\nquery MyInbox {\n  myNotifications(first: 20) {\n    edges {\n      node {\n        ...NotificationView\n      }\n    }\n  }\n  unreadNotificationCount\n}\n\nmutation MarkNotificationsRead($ids: [ID!]!) {\n  markNotificationsRead(ids: $ids)\n}\n\nsubscription NotificationReceived {\n  notificationReceived {\n    ...NotificationView\n  }\n}": typeof types.RegistrationViewFragmentDoc,
};
const documents: Documents = {
    "fragment RegistrationView on Registration {\n  id\n  status\n  cancellationReason\n  lecture {\n    title\n  }\n  payment {\n    status\n  }\n}\n\nquery Catalog {\n  lectures(first: 50, status: OPEN) {\n    totalCount\n    edges {\n      node {\n        id\n        title\n        price\n        capacity\n        enrolledCount\n      }\n    }\n  }\n}\n\nquery MyRegistrations {\n  myRegistrations {\n    ...RegistrationView\n  }\n}\n\nquery MyDashboard {\n  myDashboard {\n    registrationId\n    lectureTitle\n    registrationStatus\n    paymentStatus\n    updatedAt\n  }\n}\n\nmutation Register($id: ID!) {\n  registerForLecture(lectureId: $id) {\n    ...RegistrationView\n  }\n}\n\nmutation CancelRegistration($id: ID!) {\n  cancelRegistration(id: $id) {\n    ...RegistrationView\n  }\n}\n\nsubscription MyRegistrationChanges {\n  registrationStatusChanged {\n    ...RegistrationView\n  }\n}\n\nfragment NotificationView on Notification {\n  id\n  kind\n  message\n  read\n  createdAt\n}\n\nquery MyInbox {\n  myNotifications(first: 20) {\n    edges {\n      node {\n        ...NotificationView\n      }\n    }\n  }\n  unreadNotificationCount\n}\n\nmutation MarkNotificationsRead($ids: [ID!]!) {\n  markNotificationsRead(ids: $ids)\n}\n\nsubscription NotificationReceived {\n  notificationReceived {\n    ...NotificationView\n  }\n}": types.RegistrationViewFragmentDoc,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment RegistrationView on Registration {\n  id\n  status\n  cancellationReason\n  lecture {\n    title\n  }\n  payment {\n    status\n  }\n}\n\nquery Catalog {\n  lectures(first: 50, status: OPEN) {\n    totalCount\n    edges {\n      node {\n        id\n        title\n        price\n        capacity\n        enrolledCount\n      }\n    }\n  }\n}\n\nquery MyRegistrations {\n  myRegistrations {\n    ...RegistrationView\n  }\n}\n\nquery MyDashboard {\n  myDashboard {\n    registrationId\n    lectureTitle\n    registrationStatus\n    paymentStatus\n    updatedAt\n  }\n}\n\nmutation Register($id: ID!) {\n  registerForLecture(lectureId: $id) {\n    ...RegistrationView\n  }\n}\n\nmutation CancelRegistration($id: ID!) {\n  cancelRegistration(id: $id) {\n    ...RegistrationView\n  }\n}\n\nsubscription MyRegistrationChanges {\n  registrationStatusChanged {\n    ...RegistrationView\n  }\n}\n\nfragment NotificationView on Notification {\n  id\n  kind\n  message\n  read\n  createdAt\n}\n\nquery MyInbox {\n  myNotifications(first: 20) {\n    edges {\n      node {\n        ...NotificationView\n      }\n    }\n  }\n  unreadNotificationCount\n}\n\nmutation MarkNotificationsRead($ids: [ID!]!) {\n  markNotificationsRead(ids: $ids)\n}\n\nsubscription NotificationReceived {\n  notificationReceived {\n    ...NotificationView\n  }\n}"): (typeof documents)["fragment RegistrationView on Registration {\n  id\n  status\n  cancellationReason\n  lecture {\n    title\n  }\n  payment {\n    status\n  }\n}\n\nquery Catalog {\n  lectures(first: 50, status: OPEN) {\n    totalCount\n    edges {\n      node {\n        id\n        title\n        price\n        capacity\n        enrolledCount\n      }\n    }\n  }\n}\n\nquery MyRegistrations {\n  myRegistrations {\n    ...RegistrationView\n  }\n}\n\nquery MyDashboard {\n  myDashboard {\n    registrationId\n    lectureTitle\n    registrationStatus\n    paymentStatus\n    updatedAt\n  }\n}\n\nmutation Register($id: ID!) {\n  registerForLecture(lectureId: $id) {\n    ...RegistrationView\n  }\n}\n\nmutation CancelRegistration($id: ID!) {\n  cancelRegistration(id: $id) {\n    ...RegistrationView\n  }\n}\n\nsubscription MyRegistrationChanges {\n  registrationStatusChanged {\n    ...RegistrationView\n  }\n}\n\nfragment NotificationView on Notification {\n  id\n  kind\n  message\n  read\n  createdAt\n}\n\nquery MyInbox {\n  myNotifications(first: 20) {\n    edges {\n      node {\n        ...NotificationView\n      }\n    }\n  }\n  unreadNotificationCount\n}\n\nmutation MarkNotificationsRead($ids: [ID!]!) {\n  markNotificationsRead(ids: $ids)\n}\n\nsubscription NotificationReceived {\n  notificationReceived {\n    ...NotificationView\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;